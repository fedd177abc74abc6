// Every screen of the residents' app is one entry in ROUTES (history mode under /h5/).
//
// To add a screen: write views/Thing.vue and replace its line here (or add one). `meta`:
//   title     the page title (WeChat shows it in its top bar)
//   public    reachable without signing in
//   tab       show the bottom tabbar (首页, 我的)
// Screens not built yet point at ComingSoon (即将开放) so every tile and menu link already works.
// The official account's menu and messages link to /booking, /reports, /bills and /inpatient
// (patient_api/wechat/replies.py), messages to /reports/{id}, /appointments/{id}, /bills/{id}, /admissions/{id} and
// /patients/{id}/links, /family/contracts/{id} and /referrals/{id} (patient_api/wechat/templates.py): keep those paths.
import { createRouter, createWebHistory } from 'vue-router'
import { clearSession, session, signInWithWechatCode } from './session'
import { takeOAuthCode } from './wechat'
import Home from './views/Home.vue'

const ComingSoon = () => import('./views/ComingSoon.vue')

export const ROUTES = [
  { path: '/', name: 'home', component: Home, meta: { title: '居民健康服务', tab: true } },
  { path: '/me', name: 'me', component: () => import('./views/Mine.vue'), meta: { title: '我的', tab: true } },
  { path: '/login', name: 'login', component: () => import('./views/SignIn.vue'), meta: { title: '登录', public: true } },
  // The outpatient journey (预约挂号 → 支付 → 就诊, 门诊缴费): each screen its own chunk, loaded when opened.
  { path: '/booking', name: 'booking', component: () => import('./views/Booking.vue'), meta: { title: '预约挂号' } },
  { path: '/appointments', name: 'appointments', component: () => import('./views/Appointments.vue'), meta: { title: '我的预约' } },
  { path: '/appointments/:id', name: 'appointment', component: () => import('./views/AppointmentDetail.vue'), meta: { title: '预约详情' } },
  { path: '/bills', name: 'bills', component: () => import('./views/Bills.vue'), meta: { title: '门诊缴费' } },
  { path: '/bills/:id', name: 'bill', component: () => import('./views/BillDetail.vue'), meta: { title: '缴费详情' } },
  { path: '/bills/:id/invoice', name: 'bill-invoice', component: () => import('./views/Invoice.vue'), meta: { title: '电子票据' } },
  { path: '/reports', name: 'reports', component: () => import('./views/Reports.vue'), meta: { title: '检查检验报告' } },
  { path: '/reports/:id', name: 'report', component: () => import('./views/ReportDetail.vue'), meta: { title: '报告详情' } },
  { path: '/messages', name: 'messages', component: () => import('./views/Messages.vue'), meta: { title: '消息' } },
  { path: '/record', name: 'record', component: () => import('./views/Record.vue'), meta: { title: '健康档案' } },
  { path: '/record/vitals/new', name: 'vital-new', component: () => import('./views/VitalAdd.vue'), meta: { title: '录入体征' } },
  { path: '/record/access-log', name: 'access-log', component: () => import('./views/AccessLog.vue'), meta: { title: '谁看过我的档案' } },
  // The trend of one test (a LOINC or the hospital's code), from a report's results and the record's measurements.
  { path: '/patients/:id/trends/:code', name: 'trend', component: () => import('./views/Trend.vue'), meta: { title: '结果趋势' } },
  { path: '/inpatient', name: 'inpatient', component: () => import('./views/Inpatient.vue'), meta: { title: '住院服务' } },
  { path: '/inpatient/:id/deposit', name: 'deposit', component: () => import('./views/DepositTopUp.vue'), meta: { title: '缴纳预交金' } },
  { path: '/inpatient/:id/charges', name: 'daily-charges', component: () => import('./views/DailyCharges.vue'), meta: { title: '一日清单' } },
  { path: '/inpatient/:id/settlement', name: 'settlement', component: () => import('./views/Settlement.vue'), meta: { title: '出院结算' } },
  // WeChat's stay messages (deposit.low, inpatient.*) link to /admissions/{id}: the 住院服务 screen.
  { path: '/admissions/:id', redirect: { name: 'inpatient' } },
  // 互联网+护理 (home nursing): the catalogue and a service's detail are public; WeChat's homecare.* messages link
  // to /homecare/orders/{id} (patient_api/wechat/inbox.py).
  { path: '/homecare', name: 'homecare', component: () => import('./views/homecare/Catalogue.vue'), meta: { title: '互联网+护理', public: true } },
  { path: '/homecare/services/:id', name: 'homecare-service', component: () => import('./views/homecare/ServiceDetail.vue'), meta: { title: '护理服务详情', public: true } },
  { path: '/homecare/services/:id/request', name: 'homecare-request', component: () => import('./views/homecare/RequestForm.vue'), meta: { title: '申请上门护理' } },
  { path: '/homecare/orders', name: 'homecare-orders', component: () => import('./views/homecare/Orders.vue'), meta: { title: '我的护理申请' } },
  { path: '/homecare/orders/:id', name: 'homecare-order', component: () => import('./views/homecare/OrderDetail.vue'), meta: { title: '护理申请详情' } },
  // 先诊疗后付费 and 无感支付 for the current 就诊人 (docs/credit.md); a settlement's screen names its 就诊人 (?patient=).
  { path: '/credit', name: 'credit', component: () => import('./views/credit/Overview.vue'), meta: { title: '先诊疗后付费' } },
  { path: '/credit/enrol', name: 'credit-enrol', component: () => import('./views/credit/Enrol.vue'), meta: { title: '开通先诊疗后付费' } },
  { path: '/credit/settlements/:id', name: 'credit-settlement', component: () => import('./views/credit/Settlement.vue'), meta: { title: '结算详情' } },
  { path: '/credit/history', name: 'credit-history', component: () => import('./views/credit/History.vue'), meta: { title: '结算记录' } },
  { path: '/credit/autopay', name: 'credit-autopay', component: () => import('./views/credit/AutoPay.vue'), meta: { title: '无感支付' } },
  // 家庭医生签约: finding a team and its packages is open to everyone (the clinic's wall shows the same).
  { path: '/family', name: 'family', component: () => import('./views/family/FamilyHome.vue'), meta: { title: '家庭医生签约' } },
  { path: '/family/teams', name: 'family-teams', component: () => import('./views/family/Teams.vue'), meta: { title: '找家庭医生团队', public: true } },
  { path: '/family/teams/:id', name: 'family-team', component: () => import('./views/family/TeamDetail.vue'), meta: { title: '家庭医生团队', public: true } },
  { path: '/family/teams/:id/sign', name: 'family-sign', component: () => import('./views/family/SignForm.vue'), meta: { title: '签约申请' } },
  { path: '/family/contracts/:id', name: 'family-contract', component: () => import('./views/family/ContractDetail.vue'), meta: { title: '签约详情' } },
  // 双向转诊 of the current 就诊人 (the doctors start and act on them); the referral.* messages open 转诊详情.
  { path: '/referrals', name: 'referrals', component: () => import('./views/referrals/Referrals.vue'), meta: { title: '我的转诊' } },
  { path: '/referrals/:id', name: 'referral', component: () => import('./views/referrals/ReferralDetail.vue'), meta: { title: '转诊详情' } },
  { path: '/patients', name: 'patients', component: () => import('./views/Patients.vue'), meta: { title: '就诊人管理' } },
  { path: '/patients/new', name: 'patient-new', component: () => import('./views/PatientAdd.vue'), meta: { title: '添加就诊人' } },
  { path: '/patients/:id', name: 'patient', component: () => import('./views/PatientDetail.vue'), meta: { title: '就诊人信息' } },
  { path: '/patients/:id/verify', name: 'patient-verify', component: () => import('./views/PatientVerify.vue'), meta: { title: '实名验证' } },
  // WeChat's proxy.requested message links here (patient_api/wechat/templates.py).
  { path: '/patients/:id/links', name: 'patient-links', component: () => import('./views/PatientLinks.vue'), meta: { title: '家人授权' } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/NotFound.vue'), meta: { title: '页面不存在', public: true } },
]

export const router = createRouter({
  history: createWebHistory('/h5/'),
  routes: ROUTES,
  scrollBehavior: (to, from, saved) => saved || (to.hash ? { el: to.hash } : { top: 0 }),
})

router.beforeEach(async (to) => {
  // Back from WeChat's OAuth page (?code=&state=): sign in, then show the page without the code.
  const code = takeOAuthCode(to.query)
  if (code) {
    const query = { ...to.query }
    delete query.code
    delete query.state
    try {
      clearSession()
      await signInWithWechatCode(code)
      return { path: to.path, query, hash: to.hash, replace: true }
    } catch (err) {
      return { name: 'login', query: { redirect: to.path, failed: err.message || '登录失败' }, replace: true }
    }
  }
  if (!to.meta.public && !session.token) {
    return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath }, replace: true }
  }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title || '居民健康服务'
})
