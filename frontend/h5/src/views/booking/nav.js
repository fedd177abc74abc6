// Moving through the booking funnel: each step is a query parameter, so the browser's back button and a
// reload both work. `stepTo(router, route, { department: id })` keeps the earlier choices and drops the later.
const ORDER = ['hospital', 'department', 'date', 'schedule', 'slot']

export function stepQuery(query, patch) {
  const next = {}
  for (const key of ORDER) {
    if (key in patch) {
      if (patch[key] !== null && patch[key] !== undefined) next[key] = patch[key]
      break
    }
    if (query[key]) next[key] = query[key]
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null && value !== undefined) next[key] = value
  }
  return next
}

export function stepTo(router, route, patch, replace = false) {
  const to = { name: 'booking', query: stepQuery(route.query, patch) }
  return replace ? router.replace(to) : router.push(to)
}
