// How the app writes people, money and time (UX.md "Words"): 11月30日 周一 上午, 08:30–09:00, ¥12.00.
const WEEKDAYS = ['周日', '周一', '周二', '周三', '周四', '周五', '周六']
const RELATIONS = { self: '本人', spouse: '配偶', other: '亲友' }
const BY_GENDER = { parent: ['父亲', '母亲', '父母'], child: ['儿子', '女儿', '子女'] }

/** 本人, 父亲, 女儿, 配偶 … for a 就诊人 (relation and gender as the API gives them). */
export function relationLabel(patient) {
  if (!patient) return ''
  const gendered = BY_GENDER[patient.relation]
  if (gendered) return patient.gender === 'male' ? gendered[0] : patient.gender === 'female' ? gendered[1] : gendered[2]
  return RELATIONS[patient.relation] || '亲友'
}

/** ¥12.00 from fen. */
export function money(fen) {
  return `¥${(Number(fen || 0) / 100).toFixed(2)}`
}

// The API sends times with their +08:00 offset; residents read them in China time whatever the phone says.
function chinaParts(iso) {
  const date = new Date(iso)
  const shifted = new Date(date.getTime() + 8 * 3600 * 1000)
  return {
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    weekday: WEEKDAYS[shifted.getUTCDay()],
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
  }
}

function pad(n) {
  return String(n).padStart(2, '0')
}

/** 11月30日 周一 上午 */
export function visitDay(iso) {
  const p = chinaParts(iso)
  const period = p.hour < 12 ? '上午' : p.hour < 18 ? '下午' : '晚上'
  return `${p.month}月${p.day}日 ${p.weekday} ${period}`
}

/** 08:30–09:00 */
export function timeWindow(startIso, endIso) {
  const a = chinaParts(startIso)
  const b = chinaParts(endIso)
  return `${pad(a.hour)}:${pad(a.minute)}–${pad(b.hour)}:${pad(b.minute)}`
}

const PERIODS = { morning: '上午', afternoon: '下午', evening: '晚上' }

/** 上午 / 下午 / 晚上 for a schedule's period. */
export function periodLabel(period) {
  return PERIODS[period] || ''
}

/** 11月30日 周一 for a date the API sends as YYYY-MM-DD (a calendar day, no time zone). */
export function dayLabel(isoDate) {
  const [y, m, d] = String(isoDate).split('-').map(Number)
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]
  return `${m}月${d}日 ${weekday}`
}

/** True on Saturdays and Sundays (YYYY-MM-DD). */
export function isWeekend(isoDate) {
  const [y, m, d] = String(isoDate).split('-').map(Number)
  const day = new Date(Date.UTC(y, m - 1, d)).getUTCDay()
  return day === 0 || day === 6
}

/** 错时门诊: an evening clinic, or any clinic on a weekend (for people who work on weekdays). */
export function isOffHours(schedule) {
  return schedule.period === 'evening' || isWeekend(schedule.date)
}

/** 07:00 */
export function clock(iso) {
  const p = chinaParts(iso)
  return `${pad(p.hour)}:${pad(p.minute)}`
}

/** 12月1日 周二 15:00 */
export function dayTime(iso) {
  const p = chinaParts(iso)
  return `${p.month}月${p.day}日 ${p.weekday} ${pad(p.hour)}:${pad(p.minute)}`
}

/** YYYY-MM-DD of an instant, in China time. */
export function chinaDate(instant = new Date()) {
  const shifted = new Date(new Date(instant).getTime() + 8 * 3600 * 1000)
  return shifted.toISOString().slice(0, 10)
}

/** The next `n` calendar days from today in China time, as YYYY-MM-DD. */
export function nextDays(n, from = new Date()) {
  const first = new Date(`${chinaDate(from)}T00:00:00Z`)
  return Array.from({ length: n }, (_, i) => new Date(first.getTime() + i * 86400000).toISOString().slice(0, 10))
}

/** mm:ss left until `iso` (00:00 once passed). */
export function countdown(iso, now = Date.now()) {
  const left = Math.max(0, Math.floor((new Date(iso).getTime() - now) / 1000))
  return `${pad(Math.floor(left / 60))}:${pad(left % 60)}`
}

export const APPOINTMENT_STATUS = {
  pending_payment: '待支付',
  booked: '已预约',
  checked_in: '已报到',
  completed: '已就诊',
  cancelled: '已取消',
  expired: '已超时',
  no_show: '未就诊',
}

export const BILL_STATUS = {
  unpaid: '待缴费',
  paying: '支付中',
  paid: '已缴费',
  partially_refunded: '部分退款',
  refunded: '已退款',
  closed: '已关闭',
}

export const BILL_KIND = {
  registration: '挂号费',
  outpatient: '门诊费用',
  inpatient_deposit: '住院预交金',
  inpatient_settlement: '住院结算',
  homecare: '上门护理',
  credit_settlement: '先诊疗后付费结算',
}

export const REFUND_STATUS = { processing: '退款处理中', succeeded: '已退回', failed: '退款失败' }

export const WAITLIST_STATUS = {
  waiting: '候补中',
  offered: '候补成功，待支付',
  booked: '已预约',
  expired: '候补已失效',
  lapsed: '未能分配',
  cancelled: '已取消候补',
  closed: '候补已结束',
}

/** 2026年11月30日 (China time) */
export function fullDate(iso) {
  const date = new Date(new Date(iso).getTime() + 8 * 3600 * 1000)
  return `${date.getUTCFullYear()}年${date.getUTCMonth() + 1}月${date.getUTCDate()}日`
}

/** A 就诊人's real-name state in words (link_status), with the tone of its badge. */
export const LINK_STATUS = {
  claimed: { text: '待验证', tone: 'warning' },
  pending: { text: '待本人同意', tone: 'warning' },
  verified: { text: '已实名', tone: 'success' },
}

/** 就诊人 as they are named in lists: 王*（本人）, 父亲 王** */
export function patientLabel(patient) {
  if (!patient) return ''
  return patient.relation === 'self' ? `${patient.name}（本人）` : `${relationLabel(patient)} ${patient.name}`
}

/** 2026年11月30日 08:30 (China time) */
export function fullDateTime(iso) {
  const p = chinaParts(iso)
  return `${fullDate(iso)} ${pad(p.hour)}:${pad(p.minute)}`
}

/** The day in China ('2026-11-30') of an instant. */
export function chinaDay(iso) {
  return new Date(new Date(iso).getTime() + 8 * 3600 * 1000).toISOString().slice(0, 10)
}

/** 住院第 n 天: the day of admission is day 1, counted in China's calendar days. */
export function stayDay(admittedIso, endIso) {
  const from = Date.parse(chinaDay(admittedIso))
  const to = Date.parse(chinaDay(endIso || new Date().toISOString()))
  return Math.max(1, Math.round((to - from) / 86400000) + 1)
}

/** ↑ 偏高 / ↓ 偏低 in words for a result flag (never colour alone). */
export const FLAGS = {
  H: { arrow: '↑', word: '偏高' },
  HH: { arrow: '↑', word: '明显偏高' },
  L: { arrow: '↓', word: '偏低' },
  LL: { arrow: '↓', word: '明显偏低' },
  A: { arrow: '', word: '异常' },
}

/** 2026年11月30日 for a calendar date ('2026-11-30'). */
export function dateText(date) {
  const [y, m, d] = String(date).split('-').map(Number)
  return `${y}年${m}月${d}日`
}
