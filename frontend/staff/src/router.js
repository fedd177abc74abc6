// The nurse station's screens (history mode under /staff/). `meta.public`: reachable without signing in;
// `meta.right`: only for roles that have it (session.js can()), others land on their own home.
// 首页 by role: a dispatcher the 互联网+护理 queue, a nurse without wards her home visits, a registrar 代预约, a
// cashier without wards the 先诊疗后付费 window, a referrer 双向转诊, everyone else the ward.
import { createRouter, createWebHistory } from 'vue-router'
import { can, loadMe, session } from './session'

export const router = createRouter({
  history: createWebHistory('/staff/'),
  routes: [
    { path: '/', name: 'home', component: () => import('./views/NotFound.vue'), meta: { title: '护士站' } },
    { path: '/login', name: 'login', component: () => import('./views/SignIn.vue'), meta: { title: '登录', public: true } },
    { path: '/wards/:ward', name: 'ward', component: () => import('./views/WardBoard.vue'), meta: { title: '病区床位', right: 'wards' } },
    { path: '/admissions/:id', name: 'admission', component: () => import('./views/Admission.vue'), meta: { title: '住院详情', right: 'wards' } },
    { path: '/admissions/:id/receipt', name: 'receipt', component: () => import('./views/Receipt.vue'), meta: { title: '电子票据', right: 'wards' } },
    // 互联网+护理 (home nursing): the dispatcher's queue and alerts (tablet), the nurse's visits (phone), one order.
    { path: '/homecare', name: 'homecare', component: () => import('./views/HomecareQueue.vue'), meta: { title: '上门护理订单', right: 'dispatch' } },
    { path: '/homecare/alerts', name: 'homecare-alerts', component: () => import('./views/HomecareAlerts.vue'), meta: { title: '上门护理提醒', right: 'dispatch' } },
    { path: '/homecare/visits', name: 'homecare-visits', component: () => import('./views/NurseVisits.vue'), meta: { title: '我的上门订单', right: 'visit' } },
    { path: '/homecare/orders/:id', name: 'homecare-order', component: () => import('./views/HomecareOrder.vue'), meta: { title: '上门护理订单详情' } },
    // 先诊疗后付费 at the 收费窗口 (cashier, admin): find by ID card (never in the address), then the patient.
    { path: '/credit', name: 'credit', component: () => import('./views/CreditWindow.vue'), meta: { title: '先诊疗后付费窗口', right: 'credit' } },
    { path: '/credit/patients/:id', name: 'credit-patient', component: () => import('./views/CreditPatient.vue'), meta: { title: '先诊疗后付费结算', right: 'credit' } },
    // 挂号窗口: 代预约 for a resident at the window or on the phone, and the slip to print.
    { path: '/registration', name: 'registration', component: () => import('./views/Registration.vue'), meta: { title: '代预约', right: 'register' } },
    // 双向转诊 (referrer, admin): 转出 / 转入, a new 上转 or 下转, one referral with its actions and the slip to print.
    { path: '/referrals', name: 'referrals', component: () => import('./views/Referrals.vue'), meta: { title: '双向转诊', right: 'refer' } },
    { path: '/referrals/new/:direction(up|down)', name: 'referral-new', component: () => import('./views/ReferralNew.vue'), meta: { title: '新建转诊', right: 'refer' } },
    { path: '/referrals/:id', name: 'referral', component: () => import('./views/ReferralDetail.vue'), meta: { title: '转诊详情', right: 'refer' } },
    // 家庭医生团队 (family_team): the team's applications, signed residents, overdue follow-ups, one contract.
    { path: '/family', name: 'family', component: () => import('./views/family/FamilyHome.vue'), meta: { title: '家庭医生团队', right: 'family' } },
    { path: '/family/teams/:team/applications', name: 'family-applications', component: () => import('./views/family/Applications.vue'), meta: { title: '签约申请', right: 'family' } },
    { path: '/family/teams/:team/roster', name: 'family-roster', component: () => import('./views/family/Roster.vue'), meta: { title: '签约居民', right: 'family' } },
    { path: '/family/teams/:team/overdue', name: 'family-overdue', component: () => import('./views/family/Overdue.vue'), meta: { title: '逾期随访', right: 'family' } },
    { path: '/family/contracts/:id', name: 'family-contract', component: () => import('./views/family/Contract.vue'), meta: { title: '签约详情', right: 'family' } },
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
  if (to.name === 'home' || (to.meta.right && !can(to.meta.right))) return { ...homeOf(session.me), replace: true }
  return true
})

/** Where a role starts: the dispatcher's queue, a nurse's first ward (her visits without one), a cashier's window
 * (without wards), the ward. */
export function homeOf(me) {
  if (me.role === 'dispatcher') return { name: 'homecare' }
  if (me.role === 'registrar') return { name: 'registration' }
  if (me.role === 'referrer') return { name: 'referrals' }
  if (me.role === 'family_team') return { name: 'family' }
  if (me.role === 'nurse' && !me.wards.length) return { name: 'homecare-visits' }
  if (me.role === 'cashier' && !me.wards.length) return { name: 'credit' }
  // The first ward (an admin without wards types the ward code into the address).
  return { name: 'ward', params: { ward: me.wards[0] || '-' } }
}

router.afterEach((to) => {
  document.title = `${to.meta.title || '护士站'} · 护士站`
})
