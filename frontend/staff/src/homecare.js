// 互联网+护理 at the nurse station: an order's state as staff say it, the time left before an unreviewed request
// lapses, alert kinds, and the order's steps with their times.
export { MOBILITY_TEXT, areaName } from '@shared/homecare.js'

/** {text, tone} of an order for staff (the badge says it in words). */
export function staffStatus(order) {
  switch (order.status) {
    case 'requested':
      return { text: '待审核', tone: 'warning' }
    case 'assigned':
      return { text: '待护士接单', tone: 'primary' }
    case 'accepted':
      return order.departed_at ? { text: '护士已出发', tone: 'primary' } : { text: '已接单，待出发', tone: 'primary' }
    case 'in_visit':
      return { text: '服务中', tone: 'primary' }
    case 'finished':
      return { text: order.paid_at ? '已完成，已缴费' : '已完成，待缴费', tone: 'success' }
    case 'declined':
      return { text: '已拒绝', tone: 'muted' }
    case 'lapsed':
      return { text: '超时失效', tone: 'danger' }
    case 'cancelled':
      return { text: '家属已取消', tone: 'muted' }
    default:
      return { text: order.status, tone: 'muted' }
  }
}

/** 剩余 1小时05分 / 剩余 8分钟 / 已超时 before `iso` (an unreviewed request's review_due_at), with a tone. */
export function timeLeft(iso, now = Date.now()) {
  const minutes = Math.floor((new Date(iso).getTime() - now) / 60000)
  if (minutes < 0) return { text: '已超过审核时限', tone: 'danger' }
  const hours = Math.floor(minutes / 60)
  const text = hours ? `剩余 ${hours}小时${String(minutes % 60).padStart(2, '0')}分` : `剩余 ${minutes}分钟`
  return { text, tone: minutes < 30 ? 'danger' : 'warning' }
}

export const ALERT_KINDS = {
  review_lapsed: '申请超时未审核，已失效',
  visit_overdue: '护士签到后超时未签退',
  complaint: '家属投诉',
}

/** The order's steps that happened, oldest first: [{label, at}]. */
export function steps(order) {
  return [
    ['提交申请', order.created_at],
    [order.status === 'declined' ? '已拒绝' : '已派单', order.reviewed_at],
    ['护士接单', order.nurse_accepted_at],
    ['护士出发', order.departed_at],
    ['到达签到', order.checked_in_at],
    ['完成签退', order.checked_out_at],
    ['家属已缴费', order.paid_at],
    ['超时失效', order.lapsed_at],
    ['家属取消', order.cancelled_at],
  ].filter(([, at]) => at).map(([label, at]) => ({ label, at }))
}

export const OPEN = new Set(['requested', 'assigned', 'accepted', 'in_visit'])
