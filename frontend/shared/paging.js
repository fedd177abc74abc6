// Paged lists (GET /schedules and the like answer a page and a next_cursor): screens that need the whole list
// follow the cursor to the end instead of showing only the first page.
//
//   const { items } = await allPages(api.get, '/schedules', { hospital_id })

/** Every item of a paged list, in order; `get(path, query)` is the app's client. */
export async function allPages(get, path, query = {}) {
  const items = []
  let cursor = null
  do {
    const page = await get(path, cursor ? { ...query, cursor } : query)
    items.push(...page.items)
    cursor = page.next_cursor
  } while (cursor)
  return { items }
}
