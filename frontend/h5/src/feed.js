// 首页's “what needs attention” feed, from the APIs that exist: the next visit, unpaid bills (those on 先诊疗后付费
// credit apart, as 待结算), waitlist offers and family (proxy) requests. Each source may fail or not exist yet on this
// backend (link_status and /me/patients/{id}/links are newer): a missing optional source is skipped, a failing
// core one (appointments, bills) makes the feed show its error with 重试.
//
// A card: { key, kind (visit|bill|offer|proxy), badge, title, lines, to, action }. `title` and each of
// `lines` is a string, or an array of parts that are each kept on one line (a time window never splits).
import { api } from './api'
import { money, relationLabel, timeWindow, visitDay } from './format'

const UPCOMING = new Set(['booked', 'checked_in', 'pending_payment'])

function optional(promise) {
  return promise.catch((err) => (err.status === 404 || err.status === 405 ? null : Promise.reject(err)))
}

async function placeNames(appointment) {
  try {
    const [{ items: hospitals }, { items: departments }] = await Promise.all([
      api.get('/hospitals'),
      api.get(`/hospitals/${appointment.hospital_id}/departments`),
    ])
    const hospital = hospitals.find((h) => h.id === appointment.hospital_id)
    const department = departments.find((d) => d.id === appointment.department_id)
    return [hospital?.name, department?.name].filter(Boolean)
  } catch {
    return [] // the time and number still tell the resident what they need
  }
}

function who(patients, patientId) {
  const patient = patients.find((p) => p.id === patientId)
  if (!patient) return ''
  return patient.relation === 'self' ? `${patient.name}（本人）` : `${relationLabel(patient)} ${patient.name}`
}

async function nextVisit(appointments, patients, now) {
  const upcoming = appointments
    .filter((a) => UPCOMING.has(a.status) && new Date(a.visit_end) > now)
    .sort((a, b) => new Date(a.visit_start) - new Date(b.visit_start))
  const next = upcoming[0]
  if (!next) return null
  const place = await placeNames(next)
  return {
    key: `visit-${next.id}`,
    kind: 'visit',
    badge: next.status === 'pending_payment' ? '待支付' : '下次就诊',
    title: [visitDay(next.visit_start), timeWindow(next.visit_start, next.visit_end)],
    lines: [place, [`第 ${next.queue_no} 号 ·`, who(patients, next.patient_id)]].filter((line) => line.length),
    to: { name: 'appointment', params: { id: next.id } },
    action: '查看预约',
  }
}

function unpaid(all) {
  const bills = all.filter((bill) => !bill.hold) // a 先诊疗后付费 bill is not paid on its own: see onCredit
  if (!bills.length) return null
  const total = bills.reduce((sum, bill) => sum + bill.total_fen, 0)
  return {
    key: 'bills',
    kind: 'bill',
    badge: '待缴费',
    title: `${bills.length} 笔待缴费用，共 ${money(total)}`,
    lines: ['请在规定时间内完成支付，超时将自动取消'],
    to: { name: 'bills' },
    action: '去支付',
  }
}

// 先诊疗后付费: bills kept on credit (hold) wait for one settlement; the card leads to 立即结算.
function onCredit(bills) {
  const held = bills.filter((bill) => bill.hold?.code === 'credit_bill_pending_settlement')
  if (!held.length) return null
  const total = held.reduce((sum, bill) => sum + bill.total_fen, 0)
  return {
    key: 'credit',
    kind: 'bill',
    badge: '待结算',
    title: `先诊疗后付费 ${held.length} 笔待结算，共 ${money(total)}`,
    lines: ['当天就诊结束后统一结算，也可以现在结算'],
    to: { name: 'credit' },
    action: '去结算',
  }
}

function offers(entries, patients) {
  return entries
    .filter((e) => e.status === 'offered' && e.appointment_id)
    .map((e) => ({
      key: `offer-${e.id}`,
      kind: 'offer',
      badge: '候补成功',
      title: '候补的号源已为您保留',
      lines: [`${who(patients, e.patient_id)}，请尽快支付以确认预约`],
      to: { name: 'appointment', params: { id: e.appointment_id } },
      action: '查看并支付',
    }))
}

function linkCards(patients, requests) {
  const cards = []
  for (const p of patients) {
    if (p.link_status === 'pending') {
      cards.push({
        key: `pending-${p.id}`,
        kind: 'proxy',
        badge: '等待同意',
        title: `等待 ${p.name} 同意您代为办理`,
        lines: ['对方同意后，您可以为其查看报告和病历'],
        to: { name: 'patient', params: { id: p.id } },
        action: '查看',
      })
    }
  }
  for (const { patientId, count } of requests) {
    cards.push({
      key: `requests-${patientId}`,
      kind: 'proxy',
      badge: '待确认',
      title: `有 ${count} 位家人申请代您办理`,
      lines: ['请确认是否同意，您可以随时撤销授权'],
      to: { name: 'patient-links', params: { id: patientId } },
      action: '去确认',
    })
  }
  return cards
}

/** Pending family requests on each of the account's own verified links: [{ patientId, count }]. */
async function proxyRequests(patients) {
  const mine = patients.filter((p) => p.relation === 'self' && p.link_status === 'verified')
  const answers = await Promise.all(mine.map((p) => optional(api.get(`/me/patients/${p.id}/links`)).catch(() => null)))
  return mine
    .map((p, i) => ({ patientId: p.id, count: (answers[i]?.items || []).filter((l) => l.status === 'pending').length }))
    .filter((r) => r.count > 0)
}

/** The feed's cards, most urgent first. */
export async function loadFeed(patients, now = new Date()) {
  const [appointments, bills, waitlist] = await Promise.all([
    api.get('/appointments'),
    api.get('/bills', { status: 'unpaid' }),
    optional(api.get('/waitlist')),
  ])
  const requests = await proxyRequests(patients)
  const visit = await nextVisit(appointments.items, patients, now)
  return [
    ...offers(waitlist?.items || [], patients),
    unpaid(bills.items),
    visit,
    onCredit(bills.items),
    ...linkCards(patients, requests),
  ].filter(Boolean)
}
