#!/usr/bin/env node
// Builds the optional native kernels (native/, node-gyp + OpenBLAS). Run by
// `npm ci`/`npm install` ("install" script) and `npm run build:native`.
// Never fails the install: on failure the reason goes to native/build-error.txt,
// which the engine shows (doctor, bench) while it runs the JS kernels instead.
import { spawnSync } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'native')
const errorFile = path.join(dir, 'build-error.txt')

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
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
  ]
  return candidates.find((p) => p && existsSync(p))
}

function fail(reason) {
  writeFileSync(errorFile, `${reason}\n`)
  console.warn(`native kernels not built (the engine will use its slower JS kernels): ${reason}`)
}

function main() {
  rmSync(errorFile, { force: true })
  if (process.env.FF_NATIVE === '0') return fail('skipped (FF_NATIVE=0 at install)')
  if (process.platform !== 'linux') return fail(`not supported on ${process.platform} yet (Linux only)`)
  const gyp = nodeGyp()
  if (!gyp) return fail('node-gyp not found (it ships with npm)')
  const args = [gyp, 'rebuild']
  // Use the headers of the running node when they are installed beside it: no download (offline machines).
  const nodedir = path.resolve(path.dirname(process.execPath), '..')
  if (existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodedir}`)
  const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' })
  if (run.status !== 0) {
    const out = `${run.stdout ?? ''}\n${run.stderr ?? ''}`
    const line =
      out.split('\n').find((l) => /cannot find -lopenblas|fatal error|error:/.test(l)) ??
      run.error?.message ??
      `node-gyp exited with ${run.status}`
    const hint = /openblas/.test(line) ? ' (install libopenblas-dev)' : ''
    return fail(`${line.trim()}${hint}`)
  }
  console.log('native kernels built (native/build/Release/ff_native.node)')
}

try {
  main()
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
