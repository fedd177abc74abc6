// WeChat: sign-in with OAuth and, only when a screen needs it (paying, scanning), the JS-SDK.
//
// The JS-SDK is the one script the app loads from another origin (the CSP allows res.wx.qq.com for it),
// and only inside WeChat. wx.config is signed for the page's first landing URL on iOS (WeChat keeps it for
// the whole visit) and for the current URL elsewhere.
import { api } from './api'

const JSSDK_URL = 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js'
const STATE_KEY = 'h5.oauth.state'
const landingUrl = location.href.split('#')[0]

export function isWeChat() {
  return /MicroMessenger/i.test(navigator.userAgent)
}

function isIOS() {
  return /iPhone|iPad|iPod/i.test(navigator.userAgent)
}

function randomState() {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Leave for WeChat's OAuth page; WeChat comes back to `path` (an app route) with ?code=&state=. */
export async function startWechatOAuth(path) {
  const state = randomState()
  sessionStorage.setItem(STATE_KEY, state)
  const { url } = await api.get('/auth/wechat/authorize-url', { redirect: path, scope: 'snsapi_base', state })
  location.replace(url)
}

/** The OAuth code on this URL, if WeChat just sent the resident back here with the state we gave it. */
export function takeOAuthCode(query) {
  const expected = sessionStorage.getItem(STATE_KEY)
  if (!query.code || !query.state || query.state !== expected) return null
  sessionStorage.removeItem(STATE_KEY)
  return String(query.code)
}

let sdkPromise = null
function loadSdk() {
  sdkPromise ||= new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = JSSDK_URL
    script.onload = () => resolve(window.wx)
    script.onerror = () => {
      sdkPromise = null
      reject(new Error('微信组件加载失败，请稍后重试'))
    }
    document.head.appendChild(script)
  })
  return sdkPromise
}

/** The configured `wx` object (inside WeChat only); call before chooseWXPay, scanQRCode, …. */
export async function wechatSdk() {
  if (!isWeChat()) throw new Error('请在微信中使用此功能')
  const wx = await loadSdk()
  const page = isIOS() ? landingUrl : location.href.split('#')[0]
  const config = await api.get('/wechat/jssdk-config', { url: page })
  await new Promise((resolve, reject) => {
    wx.config({ debug: false, ...config })
    wx.ready(resolve)
    wx.error((res) => reject(new Error(res?.errMsg || '微信组件配置失败')))
  })
  return wx
}
