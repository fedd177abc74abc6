// Build the web apps into ../static/<app>/ (committed; patient_api serves them without Node).
//   node build.mjs                 every app into ../static
//   node build.mjs --out DIR h5    only h5, into DIR/h5 (the test suite compares that with static/h5)
import path from 'node:path'
import { build } from 'vite'
import { APPS } from './apps.mjs'
import { appConfig, STATIC_ROOT } from './vite.config.js'

const args = process.argv.slice(2)
let outRoot = STATIC_ROOT
const names = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outRoot = path.resolve(args[++i])
  else names.push(args[i])
}
for (const name of names.length ? names : Object.keys(APPS)) {
  await build(appConfig(name, outRoot))
  console.log(`built ${name} → ${path.join(outRoot, name)}`)
}
