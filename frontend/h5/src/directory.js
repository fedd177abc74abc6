// The public directory (hospitals, departments, schedules), cached for the visit: names on every screen
// come from here, so a list of appointments or bills costs one request per hospital, not one per row.
import { api } from './api'

const cache = new Map()

function once(key, load) {
  if (!cache.has(key)) {
    cache.set(key, load().catch((err) => {
      cache.delete(key)
      throw err
    }))
  }
  return cache.get(key)
}

/** All hospitals (GET /hospitals items). */
export function hospitals() {
  return once('hospitals', async () => (await api.get('/hospitals')).items)
}

export async function hospital(id) {
  return (await hospitals()).find((h) => h.id === id) || null
}

/** A hospital's departments. */
export function departments(hospitalId) {
  return once(`departments:${hospitalId}`, async () => (await api.get(`/hospitals/${hospitalId}/departments`)).items)
}

export async function department(hospitalId, id) {
  return (await departments(hospitalId)).find((d) => d.id === id) || null
}

/** One schedule (doctor, fee kind, period); live numbers change, so `fresh` asks the server again (with `query`,
 *  e.g. { patient_id }, for one 就诊人's numbers). */
export function schedule(id, fresh = false, query = undefined) {
  if (fresh) cache.delete(`schedule:${id}`)
  return once(`schedule:${id}`, () => api.get(`/schedules/${id}`, query))
}

/** Hospital, department and doctor names for something with hospital_id, department_id, schedule_id. */
export async function placeOf(thing) {
  const [h, d, s] = await Promise.all([
    hospital(thing.hospital_id),
    department(thing.hospital_id, thing.department_id),
    thing.schedule_id ? schedule(thing.schedule_id).catch(() => null) : null,
  ])
  return { hospital: h, department: d, schedule: s }
}
