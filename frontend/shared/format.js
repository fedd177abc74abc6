// How the staff and kiosk apps write money and time (UX.md "Words"): ¥12.00, 11月30日 周一, 08:30–09:00.
const WEEKDAYS = ['周日', '周一', '周二', '周三', '周四', '周五', '周六']

/** ¥12.00 from fen. */
export function money(fen) {
  const value = Number(fen || 0) / 100
  return `${value < 0 ? '-' : ''}¥${Math.abs(value).toFixed(2)}`
}

function pad(n) {
  return String(n).padStart(2, '0')
}

// The API sends times with +08:00; the screens read China time whatever the device's zone.
function china(iso) {
  const d = new Date(new Date(iso).getTime() + 8 * 3600 * 1000)
  return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(), w: WEEKDAYS[d.getUTCDay()],
    h: d.getUTCHours(), min: d.getUTCMinutes() }
}

/** 11月30日 周一 */
export function day(iso) {
  const p = china(iso.length === 10 ? `${iso}T12:00:00+08:00` : iso)
  return `${p.m}月${p.d}日 ${p.w}`
}

/** 2027年11月29日: contract periods run a year, so their dates carry the year. */
export function fullDay(iso) {
  const p = china(iso.length === 10 ? `${iso}T12:00:00+08:00` : iso)
  return `${p.y}年${p.m}月${p.d}日`
}

/** 11月30日 周一 上午 */
export function visitDay(iso) {
  const p = china(iso)
  return `${p.m}月${p.d}日 ${p.w} ${p.h < 12 ? '上午' : p.h < 18 ? '下午' : '晚上'}`
}

/** 08:30 */
export function clock(iso) {
  const p = china(iso)
  return `${pad(p.h)}:${pad(p.min)}`
}

/** 08:30–09:00 */
export function timeWindow(startIso, endIso) {
  return `${clock(startIso)}–${clock(endIso)}`
}

/** 2026-11-30 08:30 */
export function dateTime(iso) {
  const p = china(iso)
  return `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.h)}:${pad(p.min)}`
}

/** Today in China as YYYY-MM-DD. */
export function todayIso() {
  const p = china(new Date().toISOString())
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`
}

/** Whole days from `iso` to now (China calendar days; the day of admission counts as day 1). */
export function daysSince(iso) {
  const start = china(iso)
  const now = china(new Date().toISOString())
  const a = Date.UTC(start.y, start.m - 1, start.d)
  const b = Date.UTC(now.y, now.m - 1, now.d)
  return Math.max(1, Math.round((b - a) / 86400000) + 1)
}

/** 4:59 from seconds. */
export function countdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds))
  return `${Math.floor(s / 60)}:${pad(s % 60)}`
}
