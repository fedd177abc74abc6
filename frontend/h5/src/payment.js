// Paying a bill, for every screen that takes money (deposit top-ups, the discharge balance; outpatient bills and
// booking fees next). The screen asks the server for an order, then:
//
//   const payment = createPayment()                     // reactive state; <PaymentPanel :payment="payment" /> shows it
//   payment.start(billId, order)                        // order = PayOut {out_trade_no, amount_fen, jsapi}
//   payment.pay()                                       // WeChat's cashier, or 模拟支付 in the demo
//
// Which cashier: the demo backend (GET /app-config sandbox_pay) gets a visible 模拟支付 that plays WeChat's part
// (POST /sandbox/wechatpay/orders/{out_trade_no}/pay); in WeChat, WeixinJSBridge getBrandWCPayRequest.
// The outcome is never taken from the client: after either, the bill's status is asked from the server
// (GET /bills/{id}) a bounded number of times; still unknown → 'pending' with check() to ask again.
// The cashier, the sandbox and the polling are pay.js's (shared with PayPanel); this adds a screen's state.
import { reactive } from 'vue'
import { pollBill, sandboxPay, SETTLED, wechatPaySheet } from './pay'
import { appConfig } from './session'
import { isWeChat } from './wechat'

const CHECKS = 8

/** 'sandbox' (demo: 模拟支付), 'wechat' (WeChat's cashier) or 'none' (open the page in WeChat to pay). */
export async function payMode() {
  try {
    if ((await appConfig()).sandbox_pay) return 'sandbox'
  } catch {
    // the config could not be read: decide by where the page runs
  }
  return isWeChat() ? 'wechat' : 'none'
}

/**
 * A payment's state for a screen:
 *   stage  'idle' | 'ready' (order open, waiting for the resident) | 'paying' | 'checking' | 'paid' | 'pending'
 *          (the server has not confirmed yet) | 'closed' (the order lapsed: start a new one)
 *   mode   see payMode(); message: what to tell the resident now; bill: the server's bill once asked
 */
export function createPayment() {
  const state = reactive({
    stage: 'idle',
    mode: null,
    billId: null,
    order: null,
    bill: null,
    message: '',
    async start(billId, order) {
      Object.assign(state, { billId, order, bill: null, message: '', stage: 'ready' })
      state.mode = await payMode()
      if (state.mode === 'none') state.message = '请在微信中打开本页面完成支付'
    },
    async pay() {
      if (!state.order || state.stage === 'paying' || state.stage === 'checking') return
      state.stage = 'paying'
      state.message = ''
      try {
        if (state.mode === 'sandbox') {
          await sandboxPay(state.order.out_trade_no)
        } else if (state.mode === 'wechat') {
          if ((await wechatPaySheet(state.order.jsapi)) === 'cancel') {
            state.stage = 'ready'
            state.message = '您已取消支付，可以重新支付'
            return
          }
        } else {
          state.stage = 'ready'
          state.message = '请在微信中打开本页面完成支付'
          return
        }
      } catch (err) {
        state.stage = 'ready'
        state.message = err.message || '支付没有完成，请重试'
        return
      }
      await state.check()
    },
    async check() {
      state.stage = 'checking'
      state.message = ''
      try {
        state.bill = await pollBill(state.billId, { attempts: CHECKS })
      } catch (err) {
        state.stage = 'pending'
        state.message = err.message
        return
      }
      const status = state.bill?.status
      state.stage = status === 'closed' ? 'closed' : SETTLED.has(status) ? 'paid' : 'pending'
      if (state.stage === 'pending') state.message = '暂未收到支付结果。如已付款，请稍后再查询，款项不会重复扣除。'
      if (state.stage === 'closed') state.message = '该订单已关闭，未扣款。请重新发起支付。'
    },
  })
  return state
}
