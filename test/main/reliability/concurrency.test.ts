// Two writers on one workspace, as when the CLI runs beside the open app: the app fuses run A
// while the CLI fuses run B and a diagnostic job writes a row every step; the app keeps reading
// and writing through its dispatcher. Both fusions finish, no reply or job carries SQLITE_BUSY,
// and a second writer of run A (the CLI) is refused with the running job's id.
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { JobRecord } from '../../../src/shared/records'
import { openApp } from '../../../src/main/host/app'
import { createSession } from '../../../src/main/host/handlers'
import { recordCheckpoint } from '../../../src/main/host/integrity'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { cliGroup } from '../../fixtures/process'
import { writeDataset, writeMembers } from '../engine/fusion/tiny'

const ws = mkdtempSync(join(tmpdir(), 'ff-concurrency-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))

async function setup(): Promise<void> {
  const workspace = Workspace.open(ws)
  const store = Store.open(workspace.dbPath)
  try {
    const classes = ['q0', 'q1', 'q2']
    store.datasets.create({
      id: 'ds_tiny',
      name: 'tiny',
      format: 'synthetic',
      task: 'single',
      status: 'ready',
      classes,
      counts: { train: 32, val: 40, test: 50 },
      dir: 'datasets/ds_tiny'
    })
    writeDataset(workspace.datasetDir('ds_tiny'), classes, { train: 32, val: 40, test: 50 }, 5)
    const members = await writeMembers(join(ws, 'staging'), classes)
    for (const run of ['run_a', 'run_b']) {
      store.runs.create({ id: run, name: run, datasetId: 'ds_tiny', kind: 'grid', config: { metric: 'acc' } })
      store.runs.setStatus(run, 'done')
      for (const m of members) {
        const id = `${run}_${m.id}`
        store.runs.createMember({
          id,
          runId: run,
          name: m.id,
          hyperparams: { lr: m.hparams.lr as number, seed: m.hparams.seed as number }
        })
        const dir = workspace.memberDir(run, id)
        cpSync(m.dir, dir, { recursive: true })
        recordCheckpoint(store, workspace, workspace.toRelative(dir))
        store.runs.updateMember(id, {
          checkpointPath: workspace.toRelative(dir),
          status: 'done',
          epochs: 4,
          wallSeconds: 2
        })
      }
    }
  } finally {
    store.close()
  }
}

describe('the CLI and the app on one workspace', () => {
  it("two fuse jobs on different runs at once both finish; a second writer of a run is refused with the running job's id; no SQLITE_BUSY reaches anyone", async () => {
    await setup()
    const env = { FF_THREADS: '1', FF_BACKEND: 'wasm' }
    Object.assign(process.env, env)
    const app = openApp({ workspaceDir: ws, onEngineOutput: () => undefined })
    const session = createSession(() => undefined)
    const errors: string[] = []
    try {
      const started = await app.dispatch(
        'startJob',
        { kind: 'fuse', params: { runId: 'run_a', methods: ['uniform', 'greedy'], resamples: 100 } },
        session
      )
      if (!started.ok) throw new Error(started.error.message)
      const jobA = started.data as JobRecord
      const selftest = await app.dispatch('startJob', { kind: 'selftest', params: { steps: 300, stepMs: 0 } }, session)
      expect(selftest.ok).toBe(true)

      // the CLI: a second writer of run A (refused at once), and a fusion of run B
      const refused = await cliGroup(['--workspace', ws, 'fuse', '--run', 'run_a', '--methods', 'uniform'], { env })
        .done
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(`error: run run_a is being written by job ${jobA.id} (fuse, `)
      const cliB = cliGroup(
        ['--workspace', ws, 'fuse', '--run', 'run_b', '--methods', 'uniform,greedy', '--resamples', '100', '--json'],
        { env }
      )

      // meanwhile the app reads and writes as its views do
      let stop = false
      const hammer = (async () => {
        for (let i = 0; !stop; i++) {
          for (const [command, request] of [
            ['listJobs', { limit: 50 }],
            ['getRun', { id: 'run_b' }],
            ['listDatasets', {}],
            ['getJob', { id: jobA.id }]
          ] as const) {
            const r = await app.dispatch(command, request, session)
            if (!r.ok) errors.push(`${command}: ${r.error.message}`)
          }
          if (i % 150 === 0) {
            const r = await app.dispatch('startJob', { kind: 'selftest', params: { steps: 5, stepMs: 0 } }, session)
            if (!r.ok) errors.push(`startJob: ${r.error.message}`)
          }
          await new Promise((res) => setTimeout(res, 5))
        }
      })()
      const b = await cliB.done
      const a = await app.jobs.wait(jobA.id)
      stop = true
      await hammer
      if (b.code !== 0) throw new Error(`fuse of run_b exited ${b.code}: ${b.stderr.slice(-2000)}`)
      expect(a.status, a.error ?? '').toBe('completed')
      expect((JSON.parse(b.stdout) as { runId: string; methods: unknown[] }).methods).toHaveLength(2)
      for (const j of app.store.jobs.list({ limit: 500 })) {
        if (j.status !== 'completed') await app.jobs.wait(j.id)
        const done = app.store.jobs.get(j.id)!
        expect(done.status, `${done.kind} ${done.id}: ${done.error ?? ''}`).toBe('completed')
      }
      expect(errors).toEqual([])
      expect(b.stderr).not.toMatch(/SQLITE_BUSY|database is locked/)
      expect(app.store.soups.list('run_a').length).toBeGreaterThanOrEqual(2)
      expect(app.store.soups.list('run_b').length).toBeGreaterThanOrEqual(2)
    } finally {
      await app.close()
    }
  }, 300_000)
})
