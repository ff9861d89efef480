#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI into native/electron/better_sqlite3.node, leaving the
// Node build in node_modules to the CLI (each runtime loads the binary built for it; see
// src/main/platform/binaries.ts). The native kernels (native/ff_native.c) are N-API and need
// no second build. Run by `npm run dist` and before `npm run dev`.
//
// Offline: point ELECTRON_HEADERS_DIR at an unpacked Electron headers folder (node-gyp's
// --nodedir: the `node-v<electron>-headers.tar.gz` of the Electron release, unpacked), or set
// npm_config_disturl to a local mirror. Online it uses Electron's headers server.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)
const electron = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version
const source = path.dirname(require.resolve('better-sqlite3/package.json'))
const out = path.join(root, 'native', 'electron')

const gyp = [
  process.env.npm_config_node_gyp,
  path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  path.join(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js'
  )
].find((f) => f && existsSync(f))
if (!gyp) {
  console.error('build-electron-natives: node-gyp not found (it ships with npm)')
  process.exit(1)
}

const headers = process.env.ELECTRON_HEADERS_DIR
const where = headers
  ? [`--nodedir=${path.resolve(headers)}`]
  : [`--dist-url=${process.env.npm_config_disturl || 'https://electronjs.org/headers'}`]
const work = mkdtempSync(path.join(tmpdir(), 'ff-electron-sqlite-'))
try {
  cpSync(source, work, { recursive: true, filter: (f) => !f.includes(`${path.sep}build${path.sep}`) })
  console.log(
    `building better-sqlite3 for Electron ${electron} (${headers ? `headers ${headers}` : 'headers from the dist URL'})`
  )
  const run = spawnSync(
    process.execPath,
    [gyp, 'rebuild', '--release', `--target=${electron}`, '--runtime=electron', '--arch=' + process.arch, ...where],
    { cwd: work, stdio: 'inherit' }
  )
  if (run.status !== 0) {
    console.error(
      `build-electron-natives: node-gyp exited with ${run.status}${headers ? '' : ' (offline? set ELECTRON_HEADERS_DIR to a local Electron headers folder)'}`
    )
    process.exit(1)
  }
  mkdirSync(out, { recursive: true })
  cpSync(path.join(work, 'build', 'Release', 'better_sqlite3.node'), path.join(out, 'better_sqlite3.node'))
  console.log(`wrote ${path.relative(root, path.join(out, 'better_sqlite3.node'))}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
