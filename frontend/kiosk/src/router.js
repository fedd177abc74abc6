// The kiosk's screens (history mode under /kiosk/). `meta.patient`: needs a card session (else the attract screen).
import { createRouter, createWebHistory } from 'vue-router'
import { device } from './device'
import { visit } from './visit'
import Attract from './views/Attract.vue'

export const router = createRouter({
  history: createWebHistory('/kiosk/'),
  routes: [
    { path: '/', name: 'attract', component: Attract, meta: { title: '自助服务' } },
    { path: '/card', name: 'card', component: () => import('./views/CardPrompt.vue'), meta: { title: '请插卡' } },
    { path: '/setup', name: 'setup', component: () => import('./views/Setup.vue'), meta: { title: '设置本机' } },
    { path: '/home', name: 'home', component: () => import('./views/Services.vue'), meta: { title: '请选择业务', patient: true } },
    { path: '/booking', name: 'booking', component: () => import('./views/Booking.vue'), meta: { title: '预约挂号', patient: true } },
    { path: '/check-in', name: 'check-in', component: () => import('./views/CheckIn.vue'), meta: { title: '报到', patient: true } },
    { path: '/bills', name: 'bills', component: () => import('./views/Bills.vue'), meta: { title: '门诊缴费', patient: true } },
    { path: '/reports', name: 'reports', component: () => import('./views/Reports.vue'), meta: { title: '报告打印', patient: true } },
    { path: '/binding', name: 'binding', component: () => import('./views/Binding.vue'), meta: { title: '绑定手机', patient: true } },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach((to) => {
  if (!device.credentials && to.name !== 'setup') return { name: 'setup', replace: true }
  if (to.meta.patient && !visit.patient) return { name: 'attract', replace: true }
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title} · 自助服务机`
})
