// Load something for a screen and keep its state: { data, error, loading, reload() }.
// `data` stays undefined until the first success; a failed reload keeps the last data and sets `error`.
import { reactive } from 'vue'

export function useAsync(loader, { immediate = true } = {}) {
  let run = 0
  const state = reactive({
    data: undefined,
    error: null,
    loading: false,
    async reload() {
      const mine = ++run
      state.loading = true
      state.error = null
      try {
        const data = await loader()
        if (mine === run) state.data = data
      } catch (err) {
        if (mine === run) state.error = err
      } finally {
        if (mine === run) state.loading = false
      }
    },
  })
  if (immediate) state.reload()
  return state
}
