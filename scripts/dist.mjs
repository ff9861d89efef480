#!/usr/bin/env node
// `npm run dist`: the installers of the desktop app (electron-builder.json): AppImage and .deb
// on Linux, NSIS (per-machine) on Windows, dmg on macOS, for the platform it runs on, plus a
// CycloneDX software bill of materials (dist/fissionfusion.cdx.json) beside them.
// Expects `npm run build` to have run (npm run dist does it first).
//
// Offline: Electron's zip for the target must be in ELECTRON_CACHE (or ELECTRON_MIRROR a local
// mirror), and ELECTRON_HEADERS_DIR a local Electron headers folder (scripts/build-electron-natives.mjs).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const step = (what, cmd, args, opts = {}) => {
  console.log(`dist: ${what}`)
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    shell: process.platform === 'win32'
  })
  if (r.status !== 0) {
    console.error(`dist: ${what} failed (exit ${r.status})`)
    process.exit(1)
  }
  return r.stdout
}

if (!existsSync(path.join(root, 'out', 'main', 'index.js'))) step('build', 'npm', ['run', 'build'])
if (!existsSync(path.join(root, 'native', 'build', 'Release', 'ff_native.node'))) {
  console.warn(
    'dist: the native kernels are not built (npm run build:native); the app will run the slower JS kernels and say so'
  )
}
step('better-sqlite3 for Electron', process.execPath, [path.join(root, 'scripts', 'build-electron-natives.mjs')])
mkdirSync(path.join(root, 'dist'), { recursive: true })
const sbom = step(
  'software bill of materials (CycloneDX)',
  'npm',
  ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev'],
  { capture: true }
)
writeFileSync(path.join(root, 'dist', 'fissionfusion.cdx.json'), sbom)
step('installers', process.execPath, [
  path.join(root, 'node_modules', 'electron-builder', 'cli.js'),
  '--config',
  'electron-builder.json',
  '--publish',
  'never',
  ...process.argv.slice(2)
])
