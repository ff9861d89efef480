import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openApp } from '../../src/main/host/app'
import { createSession } from '../../src/main/host/handlers'
import { selfCheck } from '../../src/main/host/self-check'
import { startupFailureUrl, workspaceActions } from '../../src/main/startup-page'
import type { SelfCheckReport } from '../../src/shared/api'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('start-up self-check', () => {
  it('checks the database, the workspace, an engine process and the native kernels, and leaves no file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-selfcheck-'))
    dirs.push(dir)
    const app = openApp({ workspaceDir: dir })
    try {
      const before = readdirSync(dir).sort()
      const reply = await app.dispatch(
        'selfCheck',
        {},
        createSession(() => undefined)
      )
      expect(reply.ok).toBe(true)
      const report = (reply as { data: SelfCheckReport }).data
      const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]))
      expect(byId.database).toMatchObject({ status: 'ok', detail: expect.stringMatching(/integrity ok/) })
      expect(byId.workspace).toMatchObject({ status: 'ok' })
      expect(byId.backend.status).not.toBe('fail')
      expect(byId.backend.detail).toMatch(/an engine process started on the (wasm|tensorflow|cpu) backend/)
      if (process.env.CI === 'true') expect(byId.kernels).toMatchObject({ status: 'ok' })
      expect(report.ok).toBe(true)
      expect(readdirSync(dir).sort()).toEqual(before)
    } finally {
      await app.close()
    }
  })

  it('an engine that cannot start is a failed check with what to do, not a throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-selfcheck-'))
    dirs.push(dir)
    const app = openApp({ workspaceDir: dir })
    try {
      const report = await selfCheck(app, () => Promise.reject(new Error('engine process exited with code 127')))
      expect(report.ok).toBe(false)
      const engine = report.checks.find((c) => c.id === 'backend')!
      expect(engine).toMatchObject({
        status: 'fail',
        detail: 'no engine process could start: engine process exited with code 127'
      })
      expect(engine.action).toMatch(/doctor/)
    } finally {
      await app.close()
    }
  })

  it("the window's failure page says what failed and what to do, escaped", () => {
    const e = new Error('The module was compiled against a different Node.js version using NODE_MODULE_VERSION 115 <b>')
    const html = decodeURIComponent(
      startupFailureUrl('the workspace cannot be opened', e.message, workspaceActions(e)).replace(
        /^data:text\/html;charset=utf-8,/,
        ''
      )
    )
    expect(html).toContain('cannot start: the workspace cannot be opened')
    expect(html).toContain('NODE_MODULE_VERSION 115 &lt;b&gt;')
    expect(html).toContain('npm run build:electron-natives')
    expect(html).toContain('FF_WORKSPACE')
  })
})
