// What a schedule's state means to a resident (API.md Schedule: status open|not_released|closed|stopped,
// available): the words and tone for 余号 n, 约满, 07:00 放号, 停诊, 已结束, and whether it can be booked or waited for.
import { chinaDate, clock, dayTime } from '../../format'

export function releaseText(releaseAt, today = chinaDate()) {
  return chinaDate(releaseAt) === today ? `今天 ${clock(releaseAt)} 放号` : `${dayTime(releaseAt)} 放号`
}

export function scheduleState(s) {
  if (s.status === 'stopped') return { key: 'stopped', text: '停诊', tone: 'muted' }
  if (s.status === 'closed') return { key: 'closed', text: '已结束', tone: 'muted' }
  if (s.status === 'not_released') return { key: 'not_released', text: releaseText(s.release_at), tone: 'warning' }
  if (s.available > 0) return { key: 'open', text: `余号 ${s.available}`, tone: 'success', bookable: true }
  return { key: 'full', text: '约满', tone: 'danger', waitable: true }
}

/** The fee kind as the hospital names it, shortened for a badge (便民门诊 → 便民). */
export function feeKindLabel(kind) {
  return kind === '便民门诊' ? '便民' : kind
}
