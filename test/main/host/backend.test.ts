// The backendInfo command carries what computes (`compute`, `native`), the same as `doctor --json`
// reports from its own process.
import { execFileSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { BackendReport, Reply } from '../../../src/shared/api'
import { createSession } from '../../../src/main/host/handlers'
import { tempApp } from './helpers'

const ROOT = resolve(import.meta.dirname, '../../..')
const app = tempApp()
afterAll(() => app.cleanup())

describe('backendInfo', () => {
  it('reports the compute sentence and the native kernels as doctor does', async () => {
    const reply: Reply = await app.dispatch(
      'backendInfo',
      {},
      createSession(() => undefined)
    )
    if (!reply.ok) throw new Error(reply.error.message)
    const report = reply.data as BackendReport
    const doctor = JSON.parse(
      execFileSync(
        process.execPath,
        [join(ROOT, 'bin/fissionfusion.mjs'), '--workspace', app.workspace.dir, 'doctor', '--json'],
        { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }
      )
    ) as { backend: BackendReport }
    expect(typeof report.compute).toBe('string')
    expect(report.compute).toBe(doctor.backend.compute)
    expect(report.native).toEqual(doctor.backend.native)
    expect(report.warning).toEqual(doctor.backend.warning)
    if (report.backend === 'wasm') {
      expect(report.compute).toMatch(
        report.native?.loaded ? /^wasm \+ native kernels \(.+, \d+ threads?\)$/ : /^wasm \+ JS kernels: .+/
      )
      // the JS kernels are never a silent fallback
      if (!report.native?.loaded) expect(report.warning).toContain('native kernels')
    }
    // CI builds the native kernels (README: the tests require them there)
    if (process.env.CI === 'true') expect(report.native?.loaded).toBe(true)
  }, 120_000)
})
