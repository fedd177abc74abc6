// 先诊疗后付费 at the window (收费处): the words for the API's states, and the ID card number checked as the server
// checks its shape and check digit (the server also checks the birth date and the region, and says so in words).
export const GENDER = { male: '男', female: '女' }
export const ENROLMENT = { active: '已开通', left: '已退出' }
export const LIMIT_BASIS = { base: '基础额度', family_doctor: '家庭医生签约额度', insured: '参保人员额度' }
export const CONTRACT = { signing: '签约中', active: '已开通', terminated: '已解约' }
export const SETTLEMENT = { pending: '待支付', deducting: '正在自动扣款', paid: '已结算', cancelled: '已取消' }

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK_DIGITS = '10X98765432'

/** The number as the reader or the cashier gave it, without spaces, X in capitals. */
export function compactId(raw) {
  return String(raw || '').replace(/\s+/g, '').toUpperCase()
}

/** '' when the number has the shape and check digit of a 居民身份证号; otherwise what is wrong, in words. */
export function idNumberProblem(raw) {
  const number = compactId(raw)
  if (!number) return '请输入身份证号'
  if (!/^\d{17}[\dX]$/.test(number)) return '身份证号应为18位'
  const sum = WEIGHTS.reduce((total, weight, i) => total + weight * Number(number[i]), 0)
  if (CHECK_DIGITS[sum % 11] !== number[17]) return '身份证号校验位不正确'
  return ''
}

/** [{text, tone}] badges for a patient's credit (words, never colour alone). */
export function creditBadges(credit) {
  const out = []
  const active = credit.enrolments.filter((e) => e.status === 'active')
  out.push(active.length ? { text: '已开通先诊疗后付费', tone: 'success' } : { text: '未开通先诊疗后付费', tone: 'muted' })
  if (credit.suspended) out.push({ text: '已暂停', tone: 'danger' })
  if (credit.settlements.some((s) => s.overdue)) out.push({ text: '有逾期未结算', tone: 'danger' })
  if (credit.contract?.status === 'active') out.push({ text: '无感支付已开通', tone: 'primary' })
  return out
}
