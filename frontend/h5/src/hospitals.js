// Hospital names by id (GET /hospitals, the city's directory), fetched once per visit.
import { api } from './api'

let namesPromise = null

/** A Map of hospital id → name; an empty Map when the directory cannot be read (screens then say 医院). */
export function hospitalNames() {
  namesPromise ||= api
    .get('/hospitals')
    .then(({ items }) => new Map(items.map((h) => [h.id, h.name])))
    .catch(() => {
      namesPromise = null
      return new Map()
    })
  return namesPromise
}
