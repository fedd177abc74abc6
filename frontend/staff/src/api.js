// The nurse station's client of the backend: the staff bearer token from sessionStorage (a shared tablet:
// closing the browser ends it), and a 401 hands over to the session (back to 登录 with the reason).
import { createClient } from '@shared/http.js'

const TOKEN_KEY = 'staff.token'
let unauthorized = () => {}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token)
  else sessionStorage.removeItem(TOKEN_KEY)
}

/** What happens when the server says the session is gone (main.js sets it once). */
export function onUnauthorized(handler) {
  unauthorized = handler
}

export const api = createClient({
  headers: async () => {
    const token = getToken()
    return token ? { Authorization: `Bearer ${token}` } : {}
  },
  onUnauthorized: (error) => {
    if (getToken()) unauthorized(error)
  },
})
