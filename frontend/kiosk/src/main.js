import { provisionFromUrl } from './device' // first: takes the provisioning token out of the URL
import { createApp } from 'vue'
import '@shared/theme.css'
import './kiosk.css'
import App from './App.vue'
import { onSessionLost } from './api'
import { router } from './router'
import { endVisit, onVisitEnd } from './visit'

onVisitEnd(() => router.replace({ name: 'attract' }))
onSessionLost(() => endVisit('lost'))

// A provisioning link (#provision=…) is traded, and taken out of the address, before any screen shows.
provisionFromUrl().finally(() => createApp(App).use(router).mount('#app'))
