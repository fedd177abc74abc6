// The kiosk's client of the backend: every request signed with the device secret (signing.js) over the exact bytes
// sent, plus the card session's bearer token when a patient is being served.
import { createClient } from '@shared/http.js'
import { device, forgetDevice } from './device'
import { newNonce, signRequest } from './signing'

let sessionToken = null
let lost = () => {}

export function setSessionToken(token) {
  sessionToken = token
}

/** What happens when the server ends the patient's session (idle on the server, or ended elsewhere). */
export function onSessionLost(handler) {
  lost = handler
}

export const api = createClient({
  headers: async ({ method, path, body }) => {
    const credentials = device.credentials
    if (!credentials) return {}
    const timestamp = Math.floor(Date.now() / 1000)
    const nonce = newNonce()
    const headers = {
      'X-Kiosk-Device': credentials.device_id,
      'X-Kiosk-Timestamp': String(timestamp),
      'X-Kiosk-Nonce': nonce,
      'X-Kiosk-Signature': await signRequest(credentials.secret, method, path, timestamp, nonce, body),
    }
    if (sessionToken) headers.Authorization = `Bearer ${sessionToken}`
    return headers
  },
  onUnauthorized: (error) => {
    if (error.code === 'invalid_signature') forgetDevice('本机的设置已失效，请联系管理员重新设置')
    else if (['session_expired', 'kiosk_session_required', 'session_required'].includes(error.code) || sessionToken) lost(error)
  },
})
