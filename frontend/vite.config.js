// One Vite configuration for every web app in apps.mjs: `appConfig(name, outRoot)` is what build.mjs uses;
// `WEBAPP=h5 npx vite` (npm run dev) serves one app with hot reload, proxying /api to a local backend.
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { VantResolver } from '@vant/auto-import-resolver'
import { APPS } from './apps.mjs'
import { noIconFont } from './shared/vite-no-icon-font.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
export const STATIC_ROOT = path.resolve(here, '..', 'static')

// Old enough for the WebViews residents' phones still run (WeChat's XWeb, iOS 14 WKWebView).
const TARGETS = ['es2020', 'chrome87', 'safari14']

export function appConfig(name, outRoot = STATIC_ROOT) {
  if (!APPS[name]) throw new Error(`unknown web app ${name}; known: ${Object.keys(APPS).join(', ')}`)
  return {
    configFile: false,
    root: path.join(here, name),
    base: `/${name}/`,
    logLevel: 'warn',
    resolve: { alias: { '@': path.join(here, name, 'src'), '@shared': path.join(here, 'shared') } },
    plugins: [
      vue(),
      // Vant on demand: only the components a template uses, each with its own CSS.
      Components({ dirs: [], dts: false, resolvers: [VantResolver()] }),
      noIconFont(),
    ],
    build: {
      outDir: path.join(outRoot, name),
      emptyOutDir: true,
      assetsDir: 'assets', // patient_api/webapps.py serves assets/ as immutable (names carry a content hash)
      target: TARGETS,
      cssTarget: TARGETS,
      assetsInlineLimit: 2048,
      reportCompressedSize: false,
      sourcemap: false,
    },
    server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
  }
}

export default defineConfig(() => appConfig(process.env.WEBAPP || 'h5'))
