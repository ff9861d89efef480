#!/usr/bin/env node
// `npm run smoke:desktop`: opens the real desktop window under Xvfb on a fresh workspace, waits
// for the start-up self-check, saves a screenshot (test-artifacts/desktop-smoke.png), prints the
// self-check and exits 0 when no check failed. Needs `npm run build`, an Electron binary
// (node_modules/electron/dist, downloaded at Electron's first start or from ELECTRON_CACHE /
// ELECTRON_MIRROR) and xvfb-run (Debian: xvfb). Exits 2, saying which, when one is missing.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const missing = (what) => {
  console.error(`smoke:desktop: ${what}`)
  process.exit(2)
}
// Requiring 'electron' without its binary starts a download: look for the binary first.
const electronPkg = path.dirname(createRequire(import.meta.url).resolve('electron/package.json'))
const pathFile = path.join(electronPkg, 'path.txt')
const electron = existsSync(pathFile)
  ? path.join(electronPkg, 'dist', readFileSync(pathFile, 'utf8').trim())
  : undefined
if (!electron || !existsSync(electron))
  missing(
    "no Electron binary (node_modules/electron/dist); offline, put Electron's zip in ELECTRON_CACHE and run `node node_modules/electron/install.js`"
  )
if (!existsSync(path.join(root, 'out', 'main', 'index.js'))) missing('not built: run `npm run build` first')
if (spawnSync('xvfb-run', ['--help'], { stdio: 'ignore' }).error)
  missing('xvfb-run not found (Debian: apt-get install xvfb)')

const workspace = mkdtempSync(path.join(tmpdir(), 'ff-smoke-'))
const shot = path.join(root, 'test-artifacts', 'desktop-smoke.png')
mkdirSync(path.dirname(shot), { recursive: true })
try {
  const run = spawnSync('xvfb-run', ['-a', '-s', '-screen 0 1400x900x24', electron, root, '--no-sandbox'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, FF_WORKSPACE: workspace, FF_SMOKE_SCREENSHOT: shot },
    timeout: 180_000
  })
  if (run.status === 0)
    console.log(`smoke:desktop: window opened, self-check passed; screenshot ${path.relative(root, shot)}`)
  else
    console.error(
      `smoke:desktop: failed (exit ${run.status ?? run.signal})${existsSync(shot) ? `; screenshot ${path.relative(root, shot)}` : ''}`
    )
  process.exitCode = run.status ?? 1
} finally {
  rmSync(workspace, { recursive: true, force: true })
}
