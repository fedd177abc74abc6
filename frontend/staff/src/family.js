// 家庭医生签约 at the nurse station, for team members (role family_team): the teams this member works in (loaded
// once per sign-in, the chosen one remembered for the tab), and how contracts, conditions and readings are said.
import { reactive } from 'vue'
import { api } from './api'

const TEAM_KEY = 'staff.family.team'

export const teams = reactive({ items: null, loadedFor: null })

/** The member's teams (GET /staff/family/teams), cached for this sign-in (`fresh` after a signing: places left). */
export async function loadTeams(me, fresh = false) {
  if (!fresh && teams.items && teams.loadedFor === me?.id) return teams.items
  const { items } = await api.get('/staff/family/teams')
  Object.assign(teams, { items, loadedFor: me?.id })
  return items
}

/** The team last worked on in this tab (if the member still belongs to it), else the first. */
export function chosenTeam(items) {
  const kept = sessionStorage.getItem(TEAM_KEY)
  return items.find((t) => t.id === kept) || items[0] || null
}

export function rememberTeam(id) {
  sessionStorage.setItem(TEAM_KEY, id)
}

export const CONDITION_NAMES = { hypertension: '高血压', diabetes: '糖尿病', pregnancy: '孕产期', disability: '残疾' }
export const KINDS = [
  { kind: 'blood_pressure', name: '血压' },
  { kind: 'glucose', name: '血糖' },
  { kind: 'heart_rate', name: '心率' },
  { kind: 'weight', name: '体重' },
  { kind: 'temperature', name: '体温' },
]
export const KIND_NAMES = Object.fromEntries(KINDS.map((k) => [k.kind, k.name]))
export const GENDER_NAMES = { male: '男', female: '女' }

export function conditionText(list) {
  return list && list.length ? list.map((c) => CONDITION_NAMES[c] || c).join('、') : '无'
}

/** Declared conditions the record does not show: the team checks these before accepting. */
export function unconfirmed(contract) {
  return contract.conditions.filter((c) => !contract.conditions_on_record.includes(c))
}

/** 男 · 68岁 */
export function whoText(contract) {
  return [GENDER_NAMES[contract.gender], contract.age !== null && contract.age !== undefined ? `${contract.age}岁` : null]
    .filter(Boolean).join(' · ')
}

const CONTEXTS = { fasting: '空腹', after_meal: '餐后', random: '随机' }

/** 138/86 mmHg, 6.2 mmol/L（空腹） */
export function readingText(r) {
  const value = r.kind === 'blood_pressure' ? `${r.systolic}/${r.diastolic}` : `${r.value}`
  return `${value} ${r.unit}${r.context ? `（${CONTEXTS[r.context] || r.context}）` : ''}`
}

/** The readings a team looks at first: blood pressure and glucose (others follow when there are any). */
export function mainReadings(contract) {
  const order = ['blood_pressure', 'glucose']
  return [...contract.latest_readings].sort((a, b) => {
    const ia = order.indexOf(a.kind) === -1 ? 9 : order.indexOf(a.kind)
    const ib = order.indexOf(b.kind) === -1 ? 9 : order.indexOf(b.kind)
    return ia - ib
  })
}

/** 每30天一次 */
export function intervalText(days) {
  return days === 1 ? '每天一次' : `每${days}天一次`
}

/** What to do after a refusal, by the server's code (its message is shown as it is, this follows it). */
const NEXT_STEPS = {
  already_signed: '该居民已与其他团队签约，此申请已失效。请刷新列表。',
  team_full: '本团队签约人数已满。请联系卫生院调整团队容量，或拒绝此申请并说明原因。',
  invalid_contract_state: '该记录已被处理（同事已审核或居民已撤回）。请刷新后查看最新状态。',
  family_contract_not_found: '该记录已不属于您的团队。请返回列表。',
  family_team_not_found: '您已不是该团队成员。请重新登录或联系卫生院管理员。',
  patient_not_registered: '该居民尚未在本平台建档，暂不能设置随访，请在卫生院系统中随访。',
  network_error: '请检查网络后重试。',
  validation_error: '请按提示修改后重试。',
}

/** {message, next, fields}: the server's own words, the next step, and the field messages (flattened). */
export function refusal(err) {
  const fields = []
  const walk = (value, path) => {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) fields.push({ path, text: value.join('；') })
    else if (value && typeof value === 'object') Object.entries(value).forEach(([k, v]) => walk(v, [...path, k]))
  }
  walk(err?.errors, [])
  const next = NEXT_STEPS[err?.code] || (err?.status >= 500 ? '请稍后重试；仍不成功请联系信息科。' : fields.length ? NEXT_STEPS.validation_error : '')
  return { message: err?.message || '操作没有成功', next, fields, code: err?.code }
}
