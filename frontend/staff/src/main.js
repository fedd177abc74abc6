import { createApp } from 'vue'
import '@shared/theme.css'
import './staff.css'
import App from './App.vue'
import { onUnauthorized } from './api'
import { router } from './router'
import { onIdleEnd, sessionLost, session, startIdleWatch } from './session'

const toLogin = () => {
  const current = router.currentRoute.value
  if (current.name !== 'login') router.replace({ name: 'login', query: { redirect: current.fullPath } })
}
onUnauthorized(() => {
  sessionLost()
  toLogin()
})
onIdleEnd(toLogin)
if (session.token) startIdleWatch()

createApp(App).use(router).mount('#app')
