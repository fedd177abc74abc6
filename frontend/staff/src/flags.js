// Why a bed needs a look, in words (never colour alone): from the API's flags and status.
export const STATUS_NAMES = {
  admitted: '在院',
  discharge_ordered: '已开出院医嘱',
  reviewed: '已出院审核',
  awaiting_payment: '已结算，待家属补缴',
  settled: '已结算',
}
export const INSURANCE_NAMES = { employee: '职工医保', resident: '居民医保', self_pay: '自费' }

/** [{text, tone}] badges for a stay. */
export function badges(stay) {
  const out = []
  if (stay.available_fen < 0) out.push({ text: '欠费', tone: 'danger' })
  else if (stay.flags.includes('low_deposit')) out.push({ text: '余额不足', tone: 'warning' })
  if (stay.flags.includes('orders_pending') || (stay.orders_pending && stay.status !== 'admitted')) {
    out.push({ text: '医嘱未完成', tone: 'warning' })
  }
  if (stay.status === 'reviewed') out.push({ text: '待结算', tone: 'primary' })
  if (stay.flags.includes('balance_due')) out.push({ text: '待补缴', tone: 'danger' })
  if (stay.status === 'discharge_ordered') out.push({ text: '已开出院医嘱', tone: 'primary' })
  return out
}
