// Who is signed in at this tablet, and the 15-minute idle end (a minute's warning first).
//
// The server ends an idle staff session after expires_in seconds (15 minutes); the tablet counts the same from
// the last touch or key, warns a minute before, and signs out itself so the next person never finds a stay open.
import { reactive } from 'vue'
import { api, getToken, setToken } from './api'

export const ROLE_NAMES = { nurse: '护士', cashier: '收费员', admin: '管理员', dispatcher: '调度员', registrar: '挂号员', family_team: '家庭医生团队', referrer: '转诊医生' }
const IDLE_KEY = 'staff.idle'
const WARN_SECONDS = 60

export const session = reactive({
  token: getToken(),
  me: null,
  idleSeconds: Number(sessionStorage.getItem(IDLE_KEY)) || 900,
  remaining: null, // seconds left before the idle sign-out, while the warning shows
  endedBecause: '',
})

let lastActivity = Date.now()
let ticker = null
let idleEnded = () => {}

/** What happens after the idle sign-out (main.js: back to 登录). */
export function onIdleEnd(handler) {
  idleEnded = handler
}

export function can(right) {
  const role = session.me?.role
  if (right === 'review') return role === 'nurse' || role === 'admin'
  if (right === 'settle') return ['nurse', 'cashier', 'admin'].includes(role)
  if (right === 'wards') return ['nurse', 'cashier', 'admin'].includes(role)
  if (right === 'dispatch') return role === 'dispatcher' || role === 'admin' // 互联网+护理: review requests, alerts
  if (right === 'visit') return role === 'nurse' // 互联网+护理: the visits assigned to her
  if (right === 'credit') return role === 'cashier' || role === 'admin' // 先诊疗后付费 at the 收费窗口
  if (right === 'family') return role === 'family_team' // 家庭医生团队: only members of a team (the API's rule)
  if (right === 'register') return role === 'registrar' || role === 'admin' // 挂号窗口: 代预约 and its slip
  if (right === 'refer') return role === 'referrer' || role === 'admin' // 双向转诊: send, receive, book, print
  return false
}

export async function signIn(username, password) {
  const { token, expires_in: idle } = await api.post('/staff/auth/login', { username, password })
  setToken(token)
  sessionStorage.setItem(IDLE_KEY, String(idle))
  Object.assign(session, { token, idleSeconds: idle, endedBecause: '' })
  await loadMe()
  startIdleWatch()
}

export async function loadMe() {
  session.me = await api.get('/staff/me')
  return session.me
}

function forget(reason = '') {
  setToken(null)
  sessionStorage.clear()
  Object.assign(session, { token: null, me: null, remaining: null, endedBecause: reason })
  stopIdleWatch()
}

export async function signOut(reason = '') {
  try {
    if (session.token) await api.post('/staff/auth/logout')
  } catch {
    // already gone on the server: signing out here is what matters
  }
  forget(reason)
}

/** The server said the session is over (expired or signed out elsewhere). */
export function sessionLost() {
  forget('登录已过期，请重新登录')
}

export function touch() {
  lastActivity = Date.now()
  if (session.remaining !== null) session.remaining = null
}

export function startIdleWatch() {
  stopIdleWatch()
  lastActivity = Date.now()
  ticker = setInterval(async () => {
    const left = session.idleSeconds - (Date.now() - lastActivity) / 1000
    if (left <= 0) {
      await signOut('因15分钟无操作，已自动退出登录')
      idleEnded()
    } else if (left <= WARN_SECONDS) {
      session.remaining = Math.ceil(left)
    }
  }, 1000)
}

export function stopIdleWatch() {
  if (ticker) clearInterval(ticker)
  ticker = null
}
