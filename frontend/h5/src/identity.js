// What the resident types for a 就诊人, checked as typed (the server checks again and its message wins).

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK = '10X98765432'

/** '' when `value` is a well-formed 18-digit resident ID number (date and checksum), else why not. */
export function idNumberProblem(value) {
  const text = String(value || '').trim().toUpperCase()
  if (!text) return '请输入身份证号'
  if (!/^\d{17}[\dX]$/.test(text)) return '身份证号应为18位，最后一位可能是字母X'
  const year = Number(text.slice(6, 10))
  const month = Number(text.slice(10, 12))
  const day = Number(text.slice(12, 14))
  const born = new Date(Date.UTC(year, month - 1, day))
  if (year < 1900 || born.getUTCMonth() !== month - 1 || born.getUTCDate() !== day || born > new Date()) {
    return '身份证号中的出生日期不正确，请核对'
  }
  const sum = WEIGHTS.reduce((total, weight, i) => total + weight * Number(text[i]), 0)
  if (CHECK[sum % 11] !== text[17]) return '身份证号有误，请逐位核对'
  return ''
}

/** '' for an empty or mainland mobile number (11 digits from 1), else why not. */
export function phoneProblem(value) {
  const text = String(value || '').replace(/[\s-]/g, '')
  if (!text) return ''
  return /^1[3-9]\d{9}$/.test(text) ? '' : '请输入11位手机号码'
}

/** '' for a name as the ID card has it (Chinese, or Latin letters with ·), else why not. */
export function nameProblem(value) {
  const text = String(value || '').trim()
  if (!text) return '请输入姓名'
  return /^[\u4e00-\u9fffA-Za-z·• .'-]{1,30}$/.test(text) ? '' : '请按身份证填写姓名'
}

export const RELATIONS = [
  { value: 'self', text: '本人' },
  { value: 'parent', text: '父母' },
  { value: 'child', text: '子女' },
  { value: 'spouse', text: '配偶' },
  { value: 'other', text: '其他' },
]
