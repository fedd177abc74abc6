// The web apps built from this folder. Each one lives in ./<name>/ (index.html + src/), is served by
// patient_api at /<name>/ and builds into <repo>/static/<name>/ (h5: residents, staff: nurse station, kiosk: hall
// kiosk). Adding an app is one line here plus its folder (and one line in patient_api/webapps.py to serve it).
export const APPS = {
  h5: { title: '居民健康服务' },
  staff: { title: '护士站' },
  kiosk: { title: '自助服务机' },
}
