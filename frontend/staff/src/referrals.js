// 双向转诊 at the nurse station: which side of a referral this hospital is on, what it may do now, and this
// hospital's own entry (its level says whether it sends 下转). The words are shared with the residents' app.
import { api } from './api'
import { session } from './session'

export * from '@shared/referrals.js'

let own = null
/** This hospital as the public directory shows it ({name, level}); fetched once per sign-in. */
export function ownHospital() {
  const id = session.me?.hospital_id
  if (!own || own.id !== id) own = { id, promise: api.get(`/hospitals/${id}`).catch((err) => ((own = null), Promise.reject(err))) }
  return own.promise
}

/** A city hospital (二级 or above) sends 下转 to the clinics; a 一级 clinic or centre sends only 上转. */
export const sendsDown = (hospital) => Boolean(hospital) && !String(hospital.level || '').startsWith('一级')

/** 'sending' | 'receiving' for the signed-in staff member's hospital. */
export function sideOf(referral) {
  return referral.from.hospital_id === session.me?.hospital_id ? 'sending' : 'receiving'
}

/** The actions open to this side in this state (the server checks again, and says why when it refuses). */
export function actionsFor(referral) {
  const side = sideOf(referral)
  const { direction: d, status: s } = referral
  const out = []
  if (side === 'sending') {
    if (d === 'up' && s === 'sent') out.push('book')
    if (['sent', 'booked'].includes(s)) out.push('cancel')
  } else {
    if (d === 'up' && s === 'booked') out.push('receive')
    if (d === 'down' && s === 'sent') out.push('accept')
    if ((d === 'up' && s === 'received') || (d === 'down' && s === 'accepted')) out.push('complete')
    if (['sent', 'booked'].includes(s)) out.push('decline')
  }
  return out
}

/** What each action is called, what its confirm step says, and whether it needs a reason. */
export const ACTIONS = {
  book: { label: '预约转诊号', ok: '确认预约', path: 'booking' },
  receive: { label: '确认接诊', ok: '确认接诊', path: 'receive', confirm: '确认患者已到院，由本院接诊？' },
  accept: { label: '接收', ok: '确认接收', path: 'accept', confirm: '确认由本机构接收该患者？接收后会按随访计划通知签约的家庭医生团队。' },
  complete: { label: '完成', ok: '确认完成', path: 'complete', confirm: '确认本次转诊已完成？完成后不能再修改。' },
  decline: { label: '拒绝', ok: '确认拒绝', path: 'decline', reason: '拒绝原因（转出方和患者会看到）', confirm: '确认拒绝该转诊？已预约的转诊号会取消并退回号源。', danger: true },
  cancel: { label: '撤回', ok: '确认撤回', path: 'cancel', reason: '撤回原因（接收方和患者会看到）', confirm: '确认撤回该转诊？已预约的转诊号会取消并退回号源。', danger: true },
}

export const PERIODS = { morning: '上午', afternoon: '下午', evening: '晚上' }
export const SEX = { male: '男', female: '女', M: '男', F: '女' }
