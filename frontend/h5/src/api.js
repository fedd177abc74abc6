// The one client of the backend (API.md): every screen calls the server through here.
//
//   import { api } from '@/api'
//   const { items } = await api.get('/bills', { status: 'unpaid' })
//   const appointment = await api.post('/appointments', body, { idempotencyKey })
//
// - base /api/v1, JSON in and out, `Authorization: Bearer <token>` from localStorage;
// - any failure is an ApiError with the server's {code, message, errors} and the HTTP status
//   (status 0 / code 'network_error' when the server was not reached); show `message`, it is for residents;
//   `fieldMessage('id_number')` is a 422's message for one field, `retryAfter` a 429's wait in seconds;
// - every POST carries an Idempotency-Key: pass the same `idempotencyKey` when the resident retries the
//   same action (newIdempotencyKey() once per intent), so a repeated tap never books or pays twice;
// - a 401 on a signed-in call ends the session and hands over to onUnauthorized (the router sends the
//   resident back to sign-in).

const BASE = '/api/v1'
const TOKEN_KEY = 'h5.token'

export class ApiError extends Error {
  constructor({ status, code, message, errors, retryAfter }) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.errors = errors || null
    this.retryAfter = retryAfter || null // seconds, from Retry-After on 429 (rate_limited)
  }

  /** The server's message for one field (422 `errors`: a list of strings or one string), or ''. */
  fieldMessage(field) {
    const value = this.errors?.[field]
    return Array.isArray(value) ? String(value[0] || '') : value ? String(value) : ''
  }
}

let unauthorizedHandler = () => {}

/** Register what happens when the server says the session is gone (called once by main.js). */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY)
  } catch {
    return null // storage disabled: behave as signed out
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token)
    else localStorage.removeItem(TOKEN_KEY)
  } catch {
    // private mode without storage: the session lasts as long as the page
  }
}

/** A fresh key for one intended write (crypto.randomUUID, with a fallback for older WebViews). */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[6] = (bytes[6] & 0x0f) | 0x40
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function url(path, query) {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.append(key, value)
  }
  const search = params.toString()
  return BASE + path + (search ? `?${search}` : '')
}

async function readError(response) {
  let body = null
  try {
    body = await response.json()
  } catch {
    // not our envelope (a proxy's HTML page, an empty body)
  }
  const retryAfter = Number(response.headers.get('Retry-After')) || null
  if (body && typeof body.code === 'string' && typeof body.message === 'string') {
    return new ApiError({ status: response.status, ...body, retryAfter })
  }
  const message = response.status >= 500 ? '服务暂时不可用，请稍后重试' : '请求没有成功，请稍后重试'
  return new ApiError({ status: response.status, code: `http_${response.status}`, message })
}

/** One request; resolves to the JSON body (null for 204), rejects with ApiError. */
export async function request(method, path, { query, body, idempotencyKey, signal } = {}) {
  const headers = { Accept: 'application/json' }
  const token = getToken()
  if (token) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method === 'POST') headers['Idempotency-Key'] = idempotencyKey || newIdempotencyKey()
  let response
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      signal,
    })
  } catch (err) {
    if (err?.name === 'AbortError') throw err
    throw new ApiError({ status: 0, code: 'network_error', message: '网络连接失败，请检查网络后重试' })
  }
  if (!response.ok) {
    const error = await readError(response)
    if (response.status === 401 && token) {
      setToken(null)
      unauthorizedHandler(error)
    }
    throw error
  }
  if (response.status === 204) return null
  return response.json()
}

export const api = {
  get: (path, query, options) => request('GET', path, { ...options, query }),
  post: (path, body, options) => request('POST', path, { ...options, body }),
  delete: (path, options) => request('DELETE', path, options),
}
