import { createApp } from 'vue'
import '@shared/theme.css'
import App from './App.vue'
import { onUnauthorized } from './api'
import { router } from './router'
import { clearSession } from './session'

// The server ended the session (expired, signed out elsewhere): back to sign-in, then back here.
onUnauthorized(() => {
  clearSession()
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    router.replace({ name: 'login', query: { redirect: current.fullPath } })
  }
})

createApp(App).use(router).mount('#app')
