/**
 * What the command line says, as a user sees it: one JSON document for a usage error under
 * --json, a missing input refused before any job exists, Ctrl-C exiting 130, each distinct
 * warning once per job however many worker processes repeat it, and no npm warning before
 * the CLI's own output.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../../fixtures/data/shared'
import { CLI, ROOT, cliJson } from '../../fixtures/process'

const run = promisify(execFile)
let ws = ''
beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'ff-messages-'))
})
afterAll(() => rmSync(ws, { recursive: true, force: true }))

/** Runs the CLI to its end whatever its exit code. */
async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {}
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, '--workspace', ws, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      maxBuffer: 64 << 20
    })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

describe('command-line messages', () => {
  it('a bad argument under --json prints exactly one JSON document with the error', async () => {
    const r = await cli(['fission', '--dataset', 'x', '--plan', 'fgg', '--lrs', 'abc', '--json'])
    expect(r.code).not.toBe(0)
    const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } }
    expect(doc.error.code).toBe('invalid_argument')
    expect(doc.error.message).toMatch(/--lrs.*'abc'/)
    const unknown = await cli(['no-such-command', '--json'])
    expect((JSON.parse(unknown.stdout) as { error: { message: string } }).error.message).toMatch(/unknown command/)
  })

  it('import of a missing path exits non-zero with "no such file" and creates no job', async () => {
    const r = await cli(['import', join(ws, 'no', 'such', 'path'), '--json'])
    expect(r.code).not.toBe(0)
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/no such file/)
    expect(await cliJson(ws, 'wasm', ['jobs'])).toEqual([])
  })

  it("npx prints no npm warning before the CLI's own output", async () => {
    const { stdout, stderr } = await run('npx', ['fissionfusion', '--version'], { cwd: ROOT, env: process.env })
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(stderr).not.toMatch(/npm warn/i)
  })

  it.runIf(HAVE_SHARED_DATA)(
    'a warning is said once per job, not once per worker process; Ctrl-C exits 130',
    async () => {
      const imported = (await cliJson(ws, 'wasm', [
        'import',
        join(SHARED_DATA, 'medmnist', 'retinamnist.npz'),
        '--name',
        'retina'
      ])) as { dataset: { id: string } }
      const id = imported.dataset.id
      // The JS kernels (FF_NATIVE=0) make every engine process warn: the job's and each worker's.
      const r = await cli(
        [
          'fission',
          '--dataset',
          id,
          '--plan',
          'grid',
          '--lrs',
          '1e-3,1e-4',
          '--seeds',
          '0',
          '--augs',
          'minimal',
          '--epochs',
          '1',
          '--width',
          '0.25',
          '--workers',
          '2'
        ],
        { FF_NATIVE: '0', FF_BACKEND: 'wasm' }
      )
      expect(r.code, r.stderr.slice(-1500)).toBe(0)
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('[warn]'))
      expect(warnings.some((l) => /native kernels/.test(l))).toBe(true)
      expect(new Set(warnings).size).toBe(warnings.length)

      // Ctrl-C while a job runs: it is cancelled and the CLI exits as a shell expects (128 + SIGINT).
      const child = spawn(
        process.execPath,
        [
          CLI,
          '--workspace',
          ws,
          'fission',
          '--dataset',
          id,
          '--plan',
          'grid',
          '--lrs',
          '1e-3',
          '--seeds',
          '0',
          '--augs',
          'minimal',
          '--epochs',
          '30',
          '--width',
          '0.25',
          '--workers',
          '1'
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FF_BACKEND: 'wasm' } }
      )
      let err = ''
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString()
        if (/started \(attempt/.test(err) && !child.killed) setTimeout(() => child.kill('SIGINT'), 1500)
      })
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
      expect(code, err.slice(-1500)).toBe(130)
      expect(err).toMatch(/cancelling/)
    },
    300_000
  )
})
