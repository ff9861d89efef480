import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'
import type { Plugin } from 'vite'
import { DEV_CONTENT_SECURITY_POLICY } from './src/main/window-options'

/**
 * Native or download-at-install packages: never bundled into main, loaded from
 * node_modules at run time (their .node binaries and wasm files sit beside them).
 * Every `dependency` in package.json is external already; these are listed
 * because they are dev or optional dependencies that main may still import.
 */
const nativeExternals = [
  'better-sqlite3',
  'sharp',
  'onnxruntime-node',
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu'
]

/** Main-process entries: the Electron bootstrap, the engine process the host starts, and its children. */
const mainEntries: Record<string, string> = {
  index: resolve('src/main/index.ts'),
  engine: resolve('src/main/host/engine-process.ts'),
  // Children of an engine process (src/main/engine/child-entry.ts): training workers and the memory probe.
  worker: resolve('src/main/engine/fission/worker.ts'),
  'footprint-probe': resolve('src/main/engine/fission/footprint-probe.ts')
}

/** While developing only: the page's CSP meta tag allows the dev server's injected styles and reload socket. */
const devCsp: Plugin = {
  name: 'fissionfusion-dev-csp',
  apply: 'serve',
  transformIndexHtml: (html) =>
    html.replace(/(http-equiv="Content-Security-Policy" content=")[^"]*/, `$1${DEV_CONTENT_SECURITY_POLICY}`)
}

export default defineConfig({
  main: {
    build: {
      externalizeDeps: { include: nativeExternals },
      rolldownOptions: { input: mainEntries }
    }
  },
  preload: {
    build: {
      // A sandboxed preload cannot require() anything but 'electron': bundle
      // the contract's command names in, and emit CommonJS (sandboxed
      // preloads cannot be ES modules).
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' }
      }
    }
  },
  renderer: {
    root: resolve('src/renderer'),
    plugins: [vue(), devCsp],
    build: {
      rolldownOptions: { input: { index: resolve('src/renderer/index.html') } }
    }
  }
})
