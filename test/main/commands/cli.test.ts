/** The CLI as a user runs it: `npx fissionfusion ...` in a child process. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from '../../../src/shared/api'
import { createBridgeTransport, type SocketFactory } from '../../../src/shared/bridge-client'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'fissionfusion.mjs')
const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ff-cli-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** Runs the CLI (node bin/fissionfusion.mjs, what npx runs) with a workspace in `env`. */
function cli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: tmpdir(),
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000
  })
}

describe('npx fissionfusion', () => {
  it('`npx fissionfusion doctor --json` prints exactly one JSON document with the backend and versions', () => {
    const ws = join(tmp(), 'ws')
    const r = spawnSync('npx', ['fissionfusion', 'doctor', '--json', '--workspace', ws], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000
    })
    expect(r.status).toBe(0)
    const doc = JSON.parse(r.stdout) // throws if stdout is anything but one JSON document
    const tfjsVersion = createRequire(import.meta.url)('@tensorflow/tfjs/package.json').version
    expect(doc.node).toBe(process.versions.node)
    expect(doc.electron).toBeNull()
    expect(['tensorflow', 'wasm', 'cpu']).toContain(doc.backend.backend)
    expect(doc.backend.tfjsVersion).toBe(tfjsVersion)
    expect(doc.backend.threads).toBeGreaterThanOrEqual(1)
    expect(Array.isArray(doc.backend.fallbacks)).toBe(true)
    // tfjs-node is not installed here: the skipped native backend is listed with its reason.
    if (doc.backend.backend !== 'tensorflow')
      expect(doc.backend.fallbacks[0]).toMatchObject({
        backend: 'tensorflow',
        reason: expect.stringContaining('tfjs-node')
      })
    expect(doc.workspace).toMatchObject({ dir: ws, exists: false })
    expect(doc.app.version).toBe(createRequire(import.meta.url)(join(ROOT, 'package.json')).version)
  })

  it('doctor for humans names the backend, tfjs and the workspace', () => {
    const ws = tmp()
    const r = cli(['doctor', '--workspace', ws, '--backend', 'cpu'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/backend: cpu .*tfjs 4\.22\.0, requested cpu/)
    expect(r.stdout).toMatch(/WARNING: /) // never a silent fallback to the slow backend
    expect(r.stdout).toContain(`workspace: ${ws}`)
  })

  it('`bench train` runs the training benchmark on the chosen backend', () => {
    const r = cli([
      'bench',
      'train',
      '--epochs',
      '1',
      '--warmup',
      '0',
      '--images',
      '64',
      '--json',
      '--backend',
      'wasm',
      '--workspace',
      tmp()
    ])
    expect(r.status).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(doc).toMatchObject({ backend: 'wasm', epochs_timed: 1, warmup: 0, images: 64 })
    expect(doc.train_ms_per_1024).toBeGreaterThan(0)
    expect(r.stderr).toContain('benchmarking on wasm')
    const bad = cli(['bench', 'train', '--epochs', 'two'])
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('--epochs must be an integer')
  })

  it('runs a job with plain progress lines (no TTY), lists it, and shows it; --json gives one document', () => {
    const ws = tmp()
    const run = cli(['job', 'run', 'selftest', '--params', '{"steps":3,"stepMs":10}', '--workspace', ws])
    expect(run.status).toBe(0)
    expect(run.stderr).toMatch(/started \(attempt 1\)/)
    expect(run.stderr).toMatch(/100% step 3\/3/)
    expect(run.stderr).not.toContain('\r')
    expect(run.stdout).toMatch(/^job job_\w+ \(selftest\) completed/)
    const jobs = cli(['jobs', '--json'], { FF_WORKSPACE: ws })
    expect(jobs.status).toBe(0)
    const list = JSON.parse(jobs.stdout)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ kind: 'selftest', status: 'completed', progress: 1 })
    const show = cli(['show', list[0].id, '--json', '--workspace', ws])
    expect(JSON.parse(show.stdout).job.id).toBe(list[0].id)
    expect(JSON.parse(cli(['datasets', '--json', '--workspace', ws]).stdout)).toEqual([])
    expect(JSON.parse(cli(['runs', '--json', '--workspace', ws]).stdout)).toEqual([])
    expect(cli(['runs', '--workspace', ws]).stdout.trim()).toBe('(none)')
  })

  it('a failing job exits non-zero and says how to resume; resume completes it', () => {
    const ws = tmp()
    const r = cli(['job', 'run', 'selftest', '--params', '{"steps":4,"stepMs":0,"failAtStep":2}', '--workspace', ws])
    expect(r.status).toBe(1)
    const id = /job (job_\w+)/.exec(r.stdout)![1]
    expect(r.stdout).toContain(
      `failed: selftest failed at step 2 as asked (failAtStep) — resumable: fissionfusion job resume ${id}`
    )
    // The resumed attempt starts at step 2 again and fails there again: the checkpoint was kept.
    const again = cli(['job', 'resume', id, '--json', '--workspace', ws])
    expect(JSON.parse(again.stdout)).toMatchObject({ status: 'failed', attempt: 2, state: { nextStep: 2 } })
    expect(again.stderr).toContain('resuming at step 2 of 4')
  })

  it('errors are one clear line and a non-zero exit; the stack only with --verbose', () => {
    const ws = tmp()
    const r = cli(['show', 'run_nope', '--workspace', ws])
    expect(r.status).toBe(1)
    expect(r.stderr).toBe('error: run run_nope not found\n')
    expect(r.stdout).toBe('')
    const bad = cli(['show', 'zzz', '--workspace', ws, '--verbose'])
    expect(bad.stderr.split('\n')[0]).toMatch(/^error: 'zzz' is not an id/)
    expect(bad.stderr).toMatch(/\n\s+at /)
    const json = cli(['show', 'run_nope', '--json', '--workspace', ws])
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'not_found', message: 'run run_nope not found' } })
    const params = cli(['job', 'run', 'selftest', '--params', '{"steps":0}', '--workspace', ws])
    expect(params.stderr).toBe(
      "error: invalid params for job 'selftest': params.steps: Too small: expected number to be >=1\n"
    )
  })

  it('refuses a folder that is not a workspace, and a database from a newer app', () => {
    const notWs = tmp()
    writeFileSync(join(notWs, 'notes.txt'), 'x')
    const r = cli(['jobs', '--workspace', notWs])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(
      /^error: .* is not a FissionFusion workspace: it is not empty and has no fissionfusion\.db/
    )
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('`npx fissionfusion serve` prints a tokened URL, answers the contract over it, and stops on SIGINT', async () => {
    const ws = tmp()
    // Its own process group, so Ctrl-C (SIGINT) reaches npx and the CLI under it, as in a terminal.
    const child = spawn('npx', ['fissionfusion', 'serve', '--port', '0', '--workspace', ws], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    let origin = ''
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 60_000)
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          out += c
          const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+/.exec(out)
          if (m) {
            clearTimeout(timer)
            resolve(m[0])
          }
        })
      })
      const u = new URL(url)
      origin = u.origin
      expect((await fetch(`${u.origin}/`)).status).toBe(401)
      expect([200, 503]).toContain((await fetch(url)).status)
      const transport = createBridgeTransport(
        `ws://${u.host}/ws?token=${u.searchParams.get('token')}`,
        WebSocket as unknown as SocketFactory
      )
      const info = await createClient(transport).workspaceInfo()
      expect(info.dir).toBe(ws)
      transport.close()
    } finally {
      process.kill(-child.pid!, 'SIGINT')
    }
    await exited
    await new Promise((r) => setTimeout(r, 500))
    expect(stderr).toContain('stopping...')
    await expect(fetch(`${origin}/`)).rejects.toThrow()
  })
})
