// Paying a bill, the one way every screen does it (the hold screen and the bill detail use PayPanel.vue):
//
//   POST /bills/{id}/payments {"method": "wechat_jsapi"} → an order with the JSAPI parameters;
//   inside WeChat: WeixinJSBridge.invoke('getBrandWCPayRequest', jsapi, cb);
//   in the demo (app-config.sandbox_pay): the resident taps 模拟支付 → POST /sandbox/wechatpay/orders/{no}/pay;
//   then, whatever the callback said (ok, cancel, fail), ask the backend for the real status: GET /bills/{id}
//   a bounded number of times. The callback only says the resident closed WeChat's sheet; the notification
//   WeChat sends the server is what pays the bill.
import { api } from './api'

export const SETTLED = new Set(['paid', 'partially_refunded', 'refunded', 'closed'])

/** Start (or reuse) the bill's WeChat order; `idempotencyKey` is the same for retries of one tap. */
export function createOrder(billId, idempotencyKey) {
  return api.post(`/bills/${billId}/payments`, { method: 'wechat_jsapi' }, { idempotencyKey })
}

/** Sandbox only: "pay" the order in the simulated wallet (the worker then notifies the server). */
export function sandboxPay(outTradeNo) {
  return api.post(`/sandbox/wechatpay/orders/${outTradeNo}/pay`)
}

function bridgeReady(timeoutMs = 3000) {
  if (window.WeixinJSBridge?.invoke) return Promise.resolve(window.WeixinJSBridge)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('请在微信中打开本页面完成支付')), timeoutMs)
    document.addEventListener(
      'WeixinJSBridgeReady',
      () => {
        clearTimeout(timer)
        resolve(window.WeixinJSBridge)
      },
      { once: true },
    )
  })
}

/** WeChat's payment sheet; resolves to 'ok' | 'cancel' | 'fail' (what the resident did, not whether money moved). */
export async function wechatPaySheet(jsapi) {
  const bridge = await bridgeReady()
  return new Promise((resolve) => {
    bridge.invoke('getBrandWCPayRequest', jsapi, (res) => {
      const message = String(res?.err_msg || '')
      resolve(message.endsWith(':ok') ? 'ok' : message.endsWith(':cancel') ? 'cancel' : 'fail')
    })
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * The bill as the server has it, asked up to `attempts` times until it is settled (paid, refunded, closed).
 * Resolves to the last bill read; the caller shows its status either way.
 */
export async function pollBill(billId, { attempts = 12, interval = 1500, signal } = {}) {
  let bill = null
  for (let i = 0; i < attempts; i += 1) {
    if (signal?.aborted) break
    bill = await api.get(`/bills/${billId}`)
    if (SETTLED.has(bill.status)) return bill
    if (i < attempts - 1) await sleep(interval)
  }
  return bill
}
