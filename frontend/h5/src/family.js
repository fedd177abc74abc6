// 家庭医生签约 in words, shared by its screens (views/family/): a contract's state, what a package asks of the
// person, the 区县 list. The server decides (patient_api/family); these only say it in the family's words.
export { AREAS, areaName } from '@shared/homecare.js'

/** A contract's state in words with the tone of its badge (the words say it, the colour repeats it). */
export const CONTRACT_STATUS = {
  applied: { text: '待团队审核', tone: 'warning' },
  active: { text: '生效中', tone: 'success' },
  declined: { text: '未通过', tone: 'neutral' },
  withdrawn: { text: '已撤回', tone: 'neutral' },
  renewed: { text: '已续约', tone: 'neutral' },
  ended: { text: '已解约', tone: 'neutral' },
  expired: { text: '已到期', tone: 'neutral' },
  cancelled: { text: '已撤销', tone: 'neutral' },
}

export function contractStatus(contract) {
  return CONTRACT_STATUS[contract.status] || { text: contract.status_name || contract.status, tone: 'neutral' }
}

// What an applicant may declare for a package that asks for a condition (the team checks it before accepting).
export const CONDITIONS = [
  { value: 'hypertension', label: '高血压' },
  { value: 'diabetes', label: '糖尿病' },
  { value: 'pregnancy', label: '怀孕或产后' },
  { value: 'disability', label: '持有残疾人证' },
]

/** The conditions a package's rules name (those the applicant may declare), in CONDITIONS order. */
export function askedConditions(pkg) {
  const named = new Set((pkg?.eligibility.rules || []).flatMap((rule) => (rule.kind === 'condition' ? rule.conditions : [])))
  return CONDITIONS.filter((c) => named.has(c.value))
}

/** 免费 for the basic package, ¥120.00/年 for the others. */
export function packagePrice(fen, money) {
  return fen ? `${money(fen)}/年` : '免费'
}

/** Who may sign, in words: 所有居民, or the rules joined as the server words them. */
export function whoMaySign(pkg) {
  const text = pkg.eligibility.text
  if (!text.length) return '所有居民'
  return text.join(pkg.eligibility.match === 'all' ? '，且' : '、')
}

/** A follow-up plan's state now, in words and tone. */
export function followUpState(plan) {
  if (plan.done) return { text: '本期已上传', tone: 'success' }
  if (plan.overdue) return { text: '已逾期', tone: 'danger' }
  return { text: '待上传', tone: 'warning' }
}
