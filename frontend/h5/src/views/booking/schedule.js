// What a schedule's state means to a resident (API.md Schedule: status open|not_released|closed|stopped,
// available): the words and tone for 余号 n, 约满, 07:00 放号, 停诊, 已结束, and whether it can be booked or waited for.
// Asked with the 就诊人's id, the server also counts what this 就诊人 may take (available_to_patient): a verified
// family proxy of an elder gets the tickets kept for elders (老年人预留) — the same rule booking applies.
import { chinaDate, clock, dayTime } from '../../format'
import { currentPatient, loadPatients } from '../../session'

const POOL_LABELS = { elder: '老年人预留', referral: '转诊预留' }

/** The query that makes schedule counts the current 就诊人's (none before one is added). */
export async function forPatient() {
  await loadPatients().catch(() => null) // no list: the public counts, and the 就诊人 bar says why
  return currentPatient.value ? { patient_id: currentPatient.value.id } : {}
}

/** Tickets the 就诊人 may book in a schedule or time window: theirs when the server counted them, else the public's. */
export function left(s) {
  return s.available_to_patient ?? s.available
}

/** “含老年人预留 2” when kept tickets are among those left, else ''. */
export function keptText(s) {
  return Object.entries(s.kept_for_patient || {})
    .filter(([, n]) => n > 0)
    .map(([pool, n]) => `含${POOL_LABELS[pool] || '预留号源'} ${n}`)
    .join('，')
}

export function releaseText(releaseAt, today = chinaDate()) {
  return chinaDate(releaseAt) === today ? `今天 ${clock(releaseAt)} 放号` : `${dayTime(releaseAt)} 放号`
}

export function scheduleState(s) {
  if (s.status === 'stopped') return { key: 'stopped', text: '停诊', tone: 'muted' }
  if (s.status === 'closed') return { key: 'closed', text: '已结束', tone: 'muted' }
  if (s.status === 'not_released') return { key: 'not_released', text: releaseText(s.release_at), tone: 'warning' }
  if (left(s) > 0) return { key: 'open', text: `余号 ${left(s)}`, tone: 'success', bookable: true }
  return { key: 'full', text: '约满', tone: 'danger', waitable: true }
}

/** The fee kind as the hospital names it, shortened for a badge (便民门诊 → 便民). */
export function feeKindLabel(kind) {
  return kind === '便民门诊' ? '便民' : kind
}
