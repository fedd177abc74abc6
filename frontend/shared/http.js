// A client of the backend for the staff and kiosk apps (the residents' app has its own in h5/src/api.js):
// JSON in and out under /api/v1, the error envelope {code, message, errors} as an ApiError with the HTTP status
// (status 0 / network_error when the server was not reached), an Idempotency-Key on every POST, and a hook
// that adds headers per request (a bearer token; the kiosk's HMAC signature over the exact bytes sent).
//
//   const api = createClient({ headers: async ({ method, path, body }) => ({ Authorization: … }),
//                              onUnauthorized: (error) => … })
//   await api.get('/staff/me'); await api.post('/staff/admissions/x/settle')

export const BASE = '/api/v1'

export class ApiError extends Error {
  constructor({ status, code, message, errors }) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.errors = errors || null
  }
}

/** A fresh key for one intended write. */
export function newIdempotencyKey() {
  return crypto.randomUUID()
}

/** /api/v1/path?query, the exact text that is requested (and signed). */
export function apiPath(path, query) {
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
    // not our envelope (a proxy's page, an empty body)
  }
  if (body && typeof body.code === 'string' && typeof body.message === 'string') {
    return new ApiError({ status: response.status, ...body })
  }
  const message = response.status >= 500 ? '服务暂时不可用，请稍后重试' : '请求没有成功，请稍后重试'
  return new ApiError({ status: response.status, code: `http_${response.status}`, message })
}

export function createClient({ headers: extraHeaders = async () => ({}), onUnauthorized = () => {} } = {}) {
  async function request(method, path, { query, body, idempotencyKey, raw = false } = {}) {
    const target = apiPath(path, query)
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body))
    const headers = { Accept: raw ? 'text/html' : 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (method === 'POST') headers['Idempotency-Key'] = idempotencyKey || newIdempotencyKey()
    Object.assign(headers, await extraHeaders({ method, path: target, body: bytes }))
    let response
    try {
      response = await fetch(target, { method, headers, body: body === undefined ? undefined : bytes, credentials: 'omit' })
    } catch {
      throw new ApiError({ status: 0, code: 'network_error', message: '网络连接失败，请检查网络后重试' })
    }
    if (!response.ok) {
      const error = await readError(response)
      if (response.status === 401) onUnauthorized(error)
      throw error
    }
    if (response.status === 204) return null
    return raw ? response.text() : response.json()
  }
  return {
    request,
    get: (path, query, options) => request('GET', path, { ...options, query }),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    delete: (path, options) => request('DELETE', path, options),
  }
}
