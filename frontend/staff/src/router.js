// The nurse station's screens (history mode under /staff/). `meta.public`: reachable without signing in.
import { createRouter, createWebHistory } from 'vue-router'
import { loadMe, session } from './session'

export const router = createRouter({
  history: createWebHistory('/staff/'),
  routes: [
    { path: '/', name: 'home', component: () => import('./views/NotFound.vue'), meta: { title: '护士站' } },
    { path: '/login', name: 'login', component: () => import('./views/SignIn.vue'), meta: { title: '登录', public: true } },
    { path: '/wards/:ward', name: 'ward', component: () => import('./views/WardBoard.vue'), meta: { title: '病区床位' } },
    { path: '/admissions/:id', name: 'admission', component: () => import('./views/Admission.vue'), meta: { title: '住院详情' } },
    { path: '/admissions/:id/receipt', name: 'receipt', component: () => import('./views/Receipt.vue'), meta: { title: '电子票据' } },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue'), meta: { title: '页面不存在', public: true } },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!session.token) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath }, replace: true }
  }
  if (!session.me) {
    try {
      await loadMe()
    } catch {
      return { name: 'login', query: { redirect: to.fullPath }, replace: true }
    }
  }
  // The nurse's first ward (an admin without wards types the ward code into the address).
  if (to.name === 'home') return { name: 'ward', params: { ward: session.me.wards[0] || '-' }, replace: true }
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title || '护士站'} · 护士站`
})
