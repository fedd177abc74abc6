// 互联网+护理 words shared by the residents' app and the nurse station: district names and mobility.
// (Each app says an order's state in its own words: the family and the staff need different ones.)

// The districts and counties of 泰安市 (6-digit codes); a code ending in 00 is a whole city.
export const AREAS = {
  370902: '泰山区',
  370911: '岱岳区',
  370921: '宁阳县',
  370923: '东平县',
  370982: '新泰市',
  370983: '肥城市',
}
const CITIES = { 3709: '泰安市' }

/** 泰山区; 泰安市全市 for a city code; the code itself when we do not know it. */
export function areaName(code) {
  if (AREAS[code]) return AREAS[code]
  if (String(code).endsWith('00')) return `${CITIES[String(code).slice(0, 4)] || code}全市`
  return String(code)
}

export const MOBILITY = [
  { value: 'bed_bound', text: '长期卧床' },
  { value: 'limited', text: '行动不便' },
  { value: 'independent', text: '可自行活动' },
]
export const MOBILITY_TEXT = Object.fromEntries(MOBILITY.map((m) => [m.value, m.text]))
