import { createApp } from 'vue'
import '@shared/theme.css'
import App from './App.vue'
import { onUnauthorized } from './api'
import { router } from './router'
import { clearSession, loadAccount, session } from './session'

// The server ended the session (expired, signed out elsewhere): back to sign-in, then back here.
onUnauthorized(() => {
  clearSession()
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    router.replace({ name: 'login', query: { redirect: current.fullPath } })
  }
})

// A session from before the account was known (or another tab's): learn it, for what is remembered per account.
if (session.token && !session.accountId) loadAccount().catch(() => {})

createApp(App).use(router).mount('#app')
