// What the 住院服务 screens share: a stay's status in words, and loading one stay with its hospital's name.
import { api } from './api'
import { hospitalNames } from './hospitals'

export const STAY_STATUS = {
  admitted: { text: '在院', tone: 'primary' },
  discharge_ordered: { text: '已开出院医嘱', tone: 'primary' },
  reviewed: { text: '出院审核完成', tone: 'primary' },
  awaiting_payment: { text: '待补缴', tone: 'danger' },
  settled: { text: '已出院结算', tone: 'success' },
}
export const OPEN_FOR_DEPOSITS = ['admitted', 'discharge_ordered', 'reviewed']

/** GET /admissions/{id} with `hospital_name` from the directory. */
export async function loadStay(id) {
  const [stay, names] = await Promise.all([api.get(`/admissions/${id}`), hospitalNames()])
  return { ...stay, hospital_name: names.get(stay.hospital_id) || '医院' }
}
