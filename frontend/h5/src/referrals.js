// 双向转诊 in the residents' words (views/referrals/): where a referral goes, its state and its steps. The words are
// shared with the nurse station (@shared/referrals.js); here they are said for the patient and the family.
import { STATUS } from '@shared/referrals.js'

export { followupText, roadOf } from '@shared/referrals.js'

/** 转往上级医院 / 转回基层 — what 上转 and 下转 mean, in plain words. */
export const DIRECTION = { up: '转往上级医院（上转）', down: '转回基层继续治疗（下转）' }

// The resident's side of each state: what it means for them.
const RESIDENT_STATUS = {
  sent: { up: '等待上级医院安排', down: '等待基层医疗机构接收' },
  booked: { up: '已预约就诊' },
  received: { up: '上级医院已接诊' },
  accepted: { down: '基层医疗机构已接收' },
}

/** {text, tone} for StatusBadge (its tones: primary, success, warning, danger, neutral). */
export function residentStatus(referral) {
  const base = STATUS[referral.status] || { text: referral.status, tone: 'muted' }
  const text = RESIDENT_STATUS[referral.status]?.[referral.direction] || base.text
  return { text, tone: base.tone === 'muted' ? 'neutral' : base.tone }
}
