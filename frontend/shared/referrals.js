// 双向转诊 in words, shared by the nurse station's screens and the residents' app: a referral's direction, state,
// urgency and follow-up kind. The server decides (patient_api/referrals, docs/api.md); these only say it.
export const DIRECTION = { up: '上转', down: '下转' }
export const DIRECTION_LONG = { up: '上转（基层 → 上级医院）', down: '下转（上级医院 → 基层）' }
export const URGENCY = { routine: { text: '普通', tone: 'muted' }, urgent: { text: '紧急', tone: 'danger' } }

/** A referral's state in words with its tone (the words say it, the colour repeats it). */
export const STATUS = {
  sent: { text: '待接收', tone: 'warning' },
  booked: { text: '已预约转诊号', tone: 'primary' },
  received: { text: '已接诊', tone: 'success' },
  accepted: { text: '已接收', tone: 'success' },
  completed: { text: '已完成', tone: 'muted' },
  declined: { text: '已拒绝', tone: 'danger' },
  cancelled: { text: '已撤回', tone: 'muted' },
}

export function statusOf(referral) {
  return STATUS[referral.status] || { text: referral.status, tone: 'muted' }
}

/** The follow-up kinds a down-referral may ask the clinic's team for (the vitals kinds, patient_api/records). */
export const FOLLOWUP_KINDS = [
  { kind: 'blood_pressure', text: '血压' },
  { kind: 'glucose', text: '血糖' },
  { kind: 'heart_rate', text: '心率' },
  { kind: 'weight', text: '体重' },
  { kind: 'temperature', text: '体温' },
]

export function followupText(followup) {
  if (!followup) return ''
  const kind = FOLLOWUP_KINDS.find((k) => k.kind === followup.kind)?.text || followup.kind
  return `${kind} 每${followup.every_days}天一次`
}

/** The steps of a referral's road, each done or not, for the resident's status steps. */
export function roadOf(referral) {
  const reached = new Set((referral.history || []).map((h) => h.status))
  reached.add(referral.status)
  const road = referral.direction === 'up' ? ['sent', 'booked', 'received', 'completed'] : ['sent', 'accepted', 'completed']
  const words = { sent: '已发出', booked: '已预约', received: '已接诊', accepted: '已接收', completed: '已完成' }
  const at = (status) => (referral.history || []).find((h) => h.status === status)?.at || null
  const steps = road.map((status) => ({ status, text: words[status], done: reached.has(status), at: at(status) }))
  if (['declined', 'cancelled'].includes(referral.status)) {
    const kept = steps.filter((s) => s.done)
    kept.push({ status: referral.status, text: STATUS[referral.status].text, done: true, at: at(referral.status), end: true })
    return kept
  }
  return steps
}

export const CONSENT_BY = { patient: '本人', guardian: '监护人' }
export const CONSENT_METHOD = { signed: '签字', verbal: '口头' }
