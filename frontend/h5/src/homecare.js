// 互联网+护理 (home nursing) in words and rules, shared by its screens (views/homecare/):
// district names, statuses, the order's timeline, and the request form's checks — the same rules the server
// applies (patient_api/homecare/requests.py, eligibility.py, schemas.py); the server checks again and its
// Chinese message wins.
import { AREAS } from '@shared/homecare.js'
import { chinaDate, dayTime } from './format'

export { AREAS, MOBILITY, MOBILITY_TEXT, areaName } from '@shared/homecare.js'

/** The districts a service can be asked for: listed districts, and every known district of a listed city. */
export function serviceAreas(service) {
  const codes = new Set()
  for (const code of service.areas) {
    if (code.endsWith('00')) Object.keys(AREAS).filter((a) => a.slice(0, 4) === code.slice(0, 4)).forEach((a) => codes.add(a))
    else codes.add(code)
  }
  return [...codes].sort()
}

/** An order's state in words with the tone of its badge (the words say it, the colour repeats it). */
export function orderStatus(order) {
  switch (order.status) {
    case 'requested':
      return { text: '待医院审核', tone: 'warning' }
    case 'assigned':
      return { text: '已安排护士', tone: 'primary' }
    case 'accepted':
      return order.departed_at ? { text: '护士已出发', tone: 'primary' } : { text: '护士已接单', tone: 'primary' }
    case 'in_visit':
      return { text: '服务中', tone: 'primary' }
    case 'finished':
      return order.bill_id && !order.paid_at ? { text: '已完成，待缴费', tone: 'danger' } : { text: '已完成', tone: 'success' }
    case 'declined':
      return { text: '未通过', tone: 'muted' }
    case 'lapsed':
      return { text: '已失效', tone: 'muted' }
    case 'cancelled':
      return order.bill_id && !order.paid_at ? { text: '已取消，待缴取消费', tone: 'danger' } : { text: '已取消', tone: 'muted' }
    default:
      return { text: order.status, tone: 'muted' }
  }
}

export const OPEN_STATUSES = new Set(['requested', 'assigned', 'accepted', 'in_visit'])

/** Needs the resident: open, or a bill still to pay. */
export function isCurrent(order) {
  return OPEN_STATUSES.has(order.status) || Boolean(order.bill_id && !order.paid_at)
}

/**
 * The order's steps, oldest first: { key, label, at, detail, state } with state done | current | todo | stopped.
 * A declined, lapsed or cancelled order ends at that step (nothing after it is promised).
 */
export function timeline(order, money) {
  const steps = [{ key: 'requested', label: '提交申请', at: order.created_at, state: 'done' }]
  const review = { key: 'review', label: '医院审核', state: 'todo' }
  if (order.status === 'declined') {
    steps.push({ ...review, label: '申请未通过', at: order.reviewed_at, detail: `原因：${order.decline_reason}`, state: 'stopped' })
    return steps
  }
  if (order.status === 'lapsed') {
    steps.push({ ...review, label: '申请已失效', at: order.lapsed_at, detail: '医院未能在时限内受理，请重新申请或联系医院', state: 'stopped' })
    return steps
  }
  if (order.reviewed_at) steps.push({ ...review, label: '医院已受理，已安排护士', at: order.reviewed_at, state: 'done' })
  else if (order.status === 'requested') steps.push({ ...review, label: '等待医院审核', detail: `医院将于 ${dayTime(order.review_due_at)} 前审核`, state: 'current' })
  const visit = [
    ['accepted', '护士接单', order.nurse_accepted_at],
    ['departed', '护士出发', order.departed_at],
    ['checked_in', '护士到达，开始服务', order.checked_in_at],
    ['finished', '服务完成', order.checked_out_at],
  ]
  let next = true
  for (const [key, label, at] of visit) {
    if (at) steps.push({ key, label, at, state: 'done' })
    else if (order.status !== 'cancelled') {
      steps.push({ key, label, state: next && order.status !== 'requested' ? 'current' : 'todo' })
      next = false
    }
  }
  if (order.status === 'cancelled') {
    const fee = order.cancel_fee_fen ? `取消服务费 ${money(order.cancel_fee_fen)}` : '未收取费用'
    steps.push({ key: 'cancelled', label: '已取消申请', at: order.cancelled_at, detail: fee, state: 'stopped' })
  }
  if (order.bill_id) {
    steps.push(order.paid_at ? { key: 'paid', label: '已缴费', at: order.paid_at, state: 'done' } : { key: 'paid', label: '待缴费', state: 'current' })
  } else if (order.status !== 'cancelled') {
    steps.push({ key: 'paid', label: '缴费', state: 'todo' })
  }
  return steps
}

// The preferred windows a resident can pick; the server takes any window ahead, within 30 days, 30 minutes to 12 hours.
export const SLOTS = [
  { key: '08', start: '08:00', end: '10:00' },
  { key: '10', start: '10:00', end: '12:00' },
  { key: '14', start: '14:00', end: '16:00' },
  { key: '16', start: '16:00', end: '18:00' },
]
export const MAX_DAYS_AHEAD = 30
const LEAD_MINUTES = 60 // a window starting within the hour cannot be reviewed and reached in time

export const windowIso = (date, clock) => `${date}T${clock}:00+08:00`

/** The slots of a day still open for a request now (all of them on a later day). */
export function openSlots(date, now = Date.now()) {
  return SLOTS.filter((slot) => new Date(windowIso(date, slot.start)).getTime() > now + LEAD_MINUTES * 60000)
}

/** The days (YYYY-MM-DD, China) that still have an open slot, within the 30 days the server accepts. */
export function requestDays(count, now = Date.now()) {
  const first = new Date(`${chinaDate(now)}T00:00:00Z`).getTime()
  const days = []
  for (let i = 0; i < MAX_DAYS_AHEAD && days.length < count; i += 1) {
    const day = new Date(first + i * 86400000).toISOString().slice(0, 10)
    const slots = openSlots(day, now).filter((s) => new Date(windowIso(day, s.start)).getTime() <= now + MAX_DAYS_AHEAD * 86400000)
    if (slots.length) days.push(day)
  }
  return days
}

/** '' for a mainland mobile number (spaces and dashes allowed), else why not. The server requires one. */
export function contactPhoneProblem(value) {
  const text = String(value || '').replace(/[\s-]/g, '')
  if (!text) return '请填写联系电话，护士上门前会与您联系'
  return /^1[3-9]\d{9}$/.test(text) ? '' : '请输入11位手机号码'
}

export function addressProblem(value) {
  const text = String(value || '').trim()
  if (!text) return '请填写上门地址'
  if (text.length < 5) return '请填写详细地址，至少5个字'
  return text.length > 200 ? '地址最多200个字' : ''
}

export function conditionProblem(value) {
  const text = String(value || '').trim()
  if (text.length < 2) return '请简要描述病情，至少2个字'
  return text.length > 500 ? '病情描述最多500个字' : ''
}

// A rule as the server words it (homecare/eligibility.py describe), for the same refusal before asking.
function describe(rule) {
  if (rule.kind === 'bed_bound') return '长期卧床或行动不便的患者'
  if (rule.kind === 'discharged_within_days') return `${rule.days}天内出院的患者`
  if (rule.kind === 'age_at_least_years') return `年满${rule.years}周岁的老人`
  return `出生${rule.days}天内的新生儿`
}

// Whether a rule holds as far as the phone can tell: true, false, or null (only the server knows: a discharge).
function holds(rule, patient, mobility) {
  if (rule.kind === 'bed_bound') return mobility === 'bed_bound'
  if (rule.kind === 'age_at_least_years') return typeof patient.age === 'number' ? patient.age >= rule.years : null
  if (rule.kind === 'age_at_most_days') return typeof patient.age === 'number' && patient.age > 0 ? false : null
  return null
}

/** The server's not_eligible message when the patient certainly does not qualify; '' when they may. */
export function eligibilityProblem(service, patient, mobility) {
  const { match = 'any', rules = [] } = service.eligibility || {}
  if (!rules.length || !patient) return ''
  const results = rules.map((rule) => holds(rule, patient, mobility))
  const fails = match === 'any' ? results.every((r) => r === false) : results.some((r) => r === false)
  if (!fails) return ''
  const [joiner, tail] = match === 'any' ? ['、', '（满足其一即可）'] : ['，且', '']
  return `该服务仅面向${rules.map(describe).join(joiner)}${tail}，该就诊人暂不符合服务条件`
}


export const RATING_WORDS = ['', '很不满意', '不满意', '一般', '满意', '非常满意']
