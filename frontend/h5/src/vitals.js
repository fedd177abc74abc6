// What residents measure at home (POST /patients/{id}/vitals; patient_api/records/vitals.py decides what is
// plausible, the form shows its message on the field). Units as the server accepts them.
export const VITAL_KINDS = [
  { kind: 'blood_pressure', text: '血压', unit: 'mmHg', fields: ['systolic', 'diastolic'] },
  { kind: 'glucose', text: '血糖', unit: 'mmol/L', units: ['mmol/L', 'mg/dL'], fields: ['value'] },
  { kind: 'heart_rate', text: '心率', unit: 'bpm', unitText: '次/分', fields: ['value'] },
  { kind: 'weight', text: '体重', unit: 'kg', unitText: '公斤', fields: ['value'] },
  { kind: 'temperature', text: '体温', unit: '°C', fields: ['value'] },
]

export const GLUCOSE_CONTEXTS = [
  { value: 'fasting', text: '空腹' },
  { value: 'after_meal', text: '餐后' },
  { value: 'random', text: '随机' },
]

const UNIT_WORDS = { bpm: '次/分', kg: '公斤' }

/** 135/85 mmHg, 6.2 mmol/L（空腹）, 72 次/分 … for a latest-vital row of the record. */
export function vitalText(v) {
  const unit = UNIT_WORDS[v.unit] || v.unit || ''
  if (v.systolic != null && v.diastolic != null) return `${v.systolic}/${v.diastolic} ${unit}`
  const context = GLUCOSE_CONTEXTS.find((c) => c.value === v.context)
  const value = v.value ?? v.text ?? '—'
  return `${value} ${unit}${context ? `（${context.text}）` : ''}`.trim()
}
