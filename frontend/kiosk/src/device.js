// This kiosk's identity: device id and signing secret, stored in the kiosk browser (localStorage) by the one-time
// provisioning link that `flask --app wsgi kiosk register` prints (…/kiosk/#provision=TOKEN). The link is taken
// out of the address bar at once (history.replaceState) and works only once.
// Only two keys ever stay in this browser: kiosk.device (these credentials) and kiosk.muted (the voice setting).
import { reactive } from 'vue'
import { apiPath } from '@shared/http.js'

export const DEVICE_KEY = 'kiosk.device'
export const KEPT_KEYS = [DEVICE_KEY, 'kiosk.muted']

function stored() {
  try {
    return JSON.parse(localStorage.getItem(DEVICE_KEY) || 'null')
  } catch {
    return null
  }
}

export const device = reactive({ credentials: stored(), problem: '' })

// The token leaves the address bar as soon as this module runs, before the router reads the URL (main.js imports
// this module first).
const pending = (() => {
  const match = /(?:^#|&)provision=([A-Za-z0-9_-]+)/.exec(window.location.hash)
  if (match) history.replaceState(null, '', window.location.pathname)
  return match
})()

/** Trade a provisioning link that opened this page (if any) for the credentials. */
export async function provisionFromUrl() {
  const match = pending
  if (!match) return
  try {
    const response = await fetch(apiPath('/kiosk/provisioning'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ token: match[1] }),
      credentials: 'omit',
    })
    const body = await response.json()
    if (!response.ok) throw new Error(body.message || '设置失败')
    const credentials = { device_id: body.device_id, secret: body.secret, name: body.name,
      hospital_id: body.hospital_id, hospital_name: body.hospital_name }
    localStorage.setItem(DEVICE_KEY, JSON.stringify(credentials))
    device.credentials = credentials
    device.problem = ''
  } catch (err) {
    device.problem = err.message || '设置失败，请重新生成设置链接'
  }
}

/** Forget the credentials (the server refused them: the kiosk was disabled). */
export function forgetDevice(problem) {
  localStorage.removeItem(DEVICE_KEY)
  device.credentials = null
  device.problem = problem
}
