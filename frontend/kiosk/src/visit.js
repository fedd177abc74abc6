// The patient being served: a card read opens a session (5 minutes idle, counted down on screen from the last
// touch); 退卡 or the countdown ends it. Nothing of the patient is ever written to browser storage, and ending
// wipes what is in memory, sessionStorage, and every localStorage key but the device's own (device.js KEPT_KEYS).
import { reactive } from 'vue'
import { api, setSessionToken } from './api'
import { KEPT_KEYS } from './device'
import { say } from './voice'

export const visit = reactive({ patient: null, method: null, idle: 300, remaining: 300, generation: 0 })

let lastActivity = 0
let ticker = null
let ended = () => {}

/** Where the screen goes after a session ends (main.js: the attract screen). */
export function onVisitEnd(handler) {
  ended = handler
}

export async function startVisit(read) {
  const opened = await api.post('/kiosk/sessions', read)
  setSessionToken(opened.token)
  Object.assign(visit, { patient: opened.patient, method: read.method, idle: opened.expires_in,
    remaining: opened.expires_in })
  lastActivity = Date.now()
  clearInterval(ticker)
  ticker = setInterval(tick, 1000)
  return opened.patient
}

function tick() {
  visit.remaining = Math.max(0, Math.ceil(visit.idle - (Date.now() - lastActivity) / 1000))
  if (visit.remaining === 0) endVisit('timeout')
}

export function touch() {
  if (!visit.patient) return
  lastActivity = Date.now()
  visit.remaining = visit.idle
}

function wipeBrowser() {
  sessionStorage.clear()
  for (let i = localStorage.length - 1; i >= 0; i--) {
    const key = localStorage.key(i)
    if (!KEPT_KEYS.includes(key)) localStorage.removeItem(key)
  }
}

/** End the session: tell the server (退卡), forget everything about the patient, back to the attract screen. */
export async function endVisit(reason = 'card_out') {
  const wasServing = Boolean(visit.patient)
  clearInterval(ticker)
  ticker = null
  if (wasServing && reason !== 'lost') {
    try {
      await api.delete('/kiosk/sessions/current')
    } catch {
      // already over on the server
    }
  }
  setSessionToken(null)
  Object.assign(visit, { patient: null, method: null, remaining: visit.idle, generation: visit.generation + 1 })
  wipeBrowser()
  if (wasServing) say(reason === 'timeout' ? '操作超时，已自动退出，请取回您的卡片' : '已退出，请取回您的卡片')
  ended(reason)
}
