// A workspace whose folder and database file are not writable (as a read-only share or file
// system leaves them) opens read-only: lists work, a warning says why, and every job is refused
// with the reason instead of a crash. Run as an unprivileged user (root ignores file modes).
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { openApp } from '../../../src/main/host/app'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { CLI, ROOT } from '../../fixtures/process'

const run = promisify(execFile)
const root = process.getuid?.() === 0
const tmp = mkdtempSync(join(tmpdir(), 'ff-readonly-ws-'))
chmodSync(tmp, 0o755)
afterAll(() => {
  chmodSync(join(tmp, 'ws'), 0o755)
  rmSync(tmp, { recursive: true, force: true })
})

/** The CLI as an unprivileged user when the tests run as root (setpriv, util-linux). */
async function cli(ws: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const node = [process.execPath, CLI, '--workspace', ws, ...args]
  const [cmd, argv] = root
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...node]]
    : [node[0], node.slice(1)]
  try {
    const r = await run(cmd as string, argv as string[], { cwd: ROOT, env: { ...process.env, HOME: tmp } })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string }
    return { code: x.code, stdout: x.stdout, stderr: x.stderr }
  }
}

describe('a read-only workspace', () => {
  it('opens read-only with a warning; lists work; jobs are refused with the reason', async () => {
    const ws = join(tmp, 'ws')
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    store.datasets.create({
      id: 'ds_a',
      name: 'alpha',
      format: 'npz',
      task: 'single',
      status: 'ready',
      classes: ['a', 'b']
    })
    store.runs.create({ id: 'run_a', name: 'a run', datasetId: 'ds_a', kind: 'grid', config: {} })
    store.runs.setStatus('run_a', 'done')
    store.close()
    for (const f of readdirSync(ws)) chmodSync(join(ws, f), statSync(join(ws, f)).isDirectory() ? 0o555 : 0o444)
    chmodSync(ws, 0o555)

    const list = await cli(ws, 'datasets', '--json')
    expect(list.code, list.stderr).toBe(0)
    expect((JSON.parse(list.stdout) as { id: string }[]).map((d) => d.id)).toEqual(['ds_a'])
    expect(list.stderr).toContain(
      'warning: the workspace folder or its database file is not writable: it is open read-only (lists and reports work; jobs are refused)'
    )

    const fuse = await cli(ws, 'fuse', '--run', 'run_a')
    expect(fuse.code).toBe(1)
    expect(fuse.stderr).toContain(
      'error: the workspace folder or its database file is not writable: jobs cannot run here; copy the workspace to a writable folder'
    )
    expect(fuse.stderr).not.toMatch(/SQLITE|at .*\.ts:\d+/)
    // nothing was written next to the database
    expect(readdirSync(ws).sort()).toEqual(['datasets', 'exports', 'fissionfusion.db', 'runs'])
  }, 60_000)

  it('in-process (as the app opens it): info() carries the reason for the banner; a refused job leaves no row', async () => {
    if (root) return expect(Workspace.open(join(tmp, 'ws')).readOnly).toBeNull() // root may write anyway: covered by the CLI test above
    const app = openApp({ workspaceDir: join(tmp, 'ws') })
    try {
      expect(app.info().readOnly).toBe('the workspace folder or its database file is not writable')
      const r = await app.dispatch('startJob', { kind: 'selftest', params: {} }, { id: 't' } as never)
      expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } })
      expect(app.store.jobs.count()).toBe(0)
    } finally {
      await app.close()
    }
  })
})
