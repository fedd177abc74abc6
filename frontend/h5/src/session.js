// Who is signed in, for whom they are acting (the current 就诊人) and whether 长辈版 is on.
//
// One reactive store shared by every screen. What is remembered lives in localStorage, keyed by the
// account (GET /auth/session gives its id), so two WeChat users of one phone keep their own choices.
import { computed, reactive } from 'vue'
import { api, getToken, setToken } from './api'

const ELDER_LAST = 'h5.elder'
const ACCOUNT = 'h5.account'

const stored = {
  get(key) {
    try {
      return localStorage.getItem(key)
    } catch {
      return null
    }
  },
  set(key, value) {
    try {
      if (value === null) localStorage.removeItem(key)
      else localStorage.setItem(key, value)
    } catch {
      // storage disabled: the choice lasts as long as the page
    }
  },
}

export const session = reactive({
  token: getToken(),
  accountId: stored.get(ACCOUNT),
  elder: stored.get(ELDER_LAST) === '1',
  patients: null, // null until loaded; then the account's 就诊人 (GET /me/patients items)
  patientId: null,
})
if (session.token && session.accountId) session.patientId = stored.get(`h5.patient.${session.accountId}`)

export const signedIn = computed(() => Boolean(session.token))

export const currentPatient = computed(() => {
  const list = session.patients || []
  return list.find((p) => p.id === session.patientId) || list.find((p) => p.relation === 'self') || list[0] || null
})

function applyElder() {
  document.documentElement.classList.toggle('elder', session.elder)
}
applyElder()

/** Turn 长辈版 on or off; remembered for this account (and as this phone's default before sign-in). */
export function setElder(on) {
  session.elder = Boolean(on)
  stored.set(ELDER_LAST, on ? '1' : '0')
  if (session.accountId) stored.set(`h5.elder.${session.accountId}`, on ? '1' : '0')
  applyElder()
}

let configPromise = null
/** What this backend offers (dev login, sandbox pay, the official account's appid); fetched once. */
export function appConfig() {
  configPromise ||= api.get('/app-config').catch((err) => {
    configPromise = null
    throw err
  })
  return configPromise
}

async function startSession({ token }) {
  setToken(token)
  session.token = token
  session.patients = null
  await loadAccount()
}

/** Learn the account behind the token and restore what it chose last time. */
export async function loadAccount() {
  const { account_id: accountId } = await api.get('/auth/session')
  session.accountId = accountId
  stored.set(ACCOUNT, accountId)
  const elder = stored.get(`h5.elder.${accountId}`)
  if (elder !== null) {
    session.elder = elder === '1'
    stored.set(ELDER_LAST, elder)
    applyElder()
  }
  session.patientId = stored.get(`h5.patient.${accountId}`)
}

export async function signInDev(openid) {
  await startSession(await api.post('/auth/dev-login', { openid }))
}

export async function signInWithWechatCode(code) {
  await startSession(await api.post('/auth/wechat', { code }))
}

/** Forget the session locally (the server already ended it, or is being told to). */
export function clearSession() {
  setToken(null)
  session.token = null
  session.patients = null
  session.patientId = null
}

export async function signOut() {
  try {
    await api.post('/auth/logout')
  } finally {
    clearSession()
  }
}

/** The account's 就诊人 (cached; `force` reloads). */
export async function loadPatients(force = false) {
  if (session.patients && !force) return session.patients
  const { items } = await api.get('/me/patients')
  session.patients = items
  return items
}

/** Act for this 就诊人 from now on (remembered for the account). */
export function choosePatient(id) {
  session.patientId = id
  if (session.accountId) stored.set(`h5.patient.${session.accountId}`, id)
}
