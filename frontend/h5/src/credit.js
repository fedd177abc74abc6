// 先诊疗后付费 and 无感支付 for one 就诊人 (docs/credit.md): the API paths, the words for its states, and the polling
// after WeChat (a contract's notification, a deduction) — the server decides every state, the screens say it.
import { api } from './api'
import { money } from './format'

export const creditPath = (patientId, tail = '') => `/me/patients/${patientId}/credit${tail}`

/** GET …/credit: enrolments, 待结算 by hospital, unpaid settlements, contract, suspension. */
export const loadCredit = (patientId) => api.get(creditPath(patientId))

/** GET …/credit/policy: the limit this 就诊人 would get at a hospital (null: 全市通用) and the consent to accept. */
export const loadTerms = (patientId, hospitalId) => api.get(creditPath(patientId, '/policy'), { hospital_id: hospitalId || undefined })

/** GET …/credit/settlements: every settlement, newest first. */
export const loadSettlements = async (patientId) => (await api.get(creditPath(patientId, '/settlements'))).items

export const LIMIT_BASIS = { base: '基础额度', family_doctor: '家庭医生签约', insured: '医保参保' }
export const LIMIT_WHY = {
  base: '开通即可使用的额度',
  family_doctor: '已签约家庭医生，额度更高',
  insured: '已参加医疗保险，额度更高',
}

/** How a settlement was (or is being) paid, in words. */
export const METHOD = {
  wechat_jsapi: '微信支付',
  wechat_papay: '自动扣款',
  counter: '收费窗口',
  insurance: '医保全额支付',
}

/** A settlement's state in words and tone: 待支付 / 已逾期 / 扣款中 / 已自动扣款 / 已支付 / 已取消. */
export function settlementState(s) {
  if (s.status === 'paid') return s.method === 'wechat_papay' ? { text: '已自动扣款', tone: 'success' } : { text: '已支付', tone: 'success' }
  if (s.status === 'deducting') return { text: '扣款中', tone: 'primary' }
  if (s.status === 'cancelled') return { text: '已取消', tone: 'neutral' }
  if (s.overdue) return { text: '已逾期', tone: 'danger' }
  return { text: '待支付', tone: 'warning' }
}

export const CONTRACT_STATE = {
  signing: { text: '签约中', tone: 'warning' },
  active: { text: '已开启', tone: 'success' },
}

/** "全市通用" or the hospital's name, for an enrolment or a terms answer. */
export const scopeName = (enrolment) => (enrolment.hospital_id ? enrolment.hospital_name : '全市通用（所有医院）')

/** A limit with its basis: ¥2000.00（医保参保）. */
export const limitText = (fen, basis) => `${money(fen)}（${LIMIT_BASIS[basis] || basis}）`

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Ask `load()` again until `done(answer)` or `attempts` run out; resolves to the last answer (the caller shows it
 * either way, with 刷新 when it is not done yet). The answer comes from WeChat's notification, not the page.
 */
export async function pollUntil(load, done, { attempts = 15, interval = 1500, signal } = {}) {
  let answer = null
  for (let i = 0; i < attempts; i += 1) {
    if (signal?.aborted) break
    answer = await load()
    if (done(answer)) return answer
    if (i < attempts - 1) await sleep(interval)
  }
  return answer
}

/**
 * Whether a failed write is retried under the same Idempotency-Key: yes when the server was not reached or not
 * able to answer (the first try may have done it); no after its answer (403/404/409/422 are replayed for a key,
 * and the resident may have fixed the cause meanwhile, e.g. paid the overdue settlement).
 */
export const keepKey = (err) => !err?.status || err.status >= 500 || err.status === 429
