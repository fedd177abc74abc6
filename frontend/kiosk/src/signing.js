// Request signing exactly as patient_api/kiosk/signing.py expects (WebCrypto HMAC-SHA256):
//   X-Kiosk-Signature = hex HMAC-SHA256(secret, METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nhex SHA-256(body bytes))
// Shared test vectors: tests/kiosk_signing_vectors.json, checked against this file in Chromium
// (tests/browser/test_kiosk_app.py) and against the server's code in Python (tests/test_kiosk_provisioning.py).
// Keep this file free of imports: the browser test evaluates its text as it is.

const utf8 = new TextEncoder()

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('')
}

export async function sha256Hex(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes))
}

/** The canonical request: method, path with query, Unix seconds, nonce, the body's SHA-256, one per line. */
export async function stringToSign(method, fullPath, timestamp, nonce, bodyBytes) {
  return [method.toUpperCase(), fullPath, String(timestamp), nonce, await sha256Hex(bodyBytes)].join('\n')
}

/** The hex signature of one request. */
export async function signRequest(secret, method, fullPath, timestamp, nonce, bodyBytes) {
  const key = await crypto.subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const message = await stringToSign(method, fullPath, timestamp, nonce, bodyBytes)
  return hex(await crypto.subtle.sign('HMAC', key, utf8.encode(message)))
}

/** 32 URL-safe random characters (the server accepts 16–64 of [A-Za-z0-9_-], each once). */
export function newNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(24))
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
