// Screens import the client from here: the signed API and a fresh idempotency key per intended write.
export { api } from './api'
export { newIdempotencyKey as newKey } from '@shared/http.js'
