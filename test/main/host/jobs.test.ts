import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiCallError } from '../../../src/shared/api'
import type { JobEvent } from '../../../src/shared/records'
import { openApp } from '../../../src/main/host/app'
import { createSession } from '../../../src/main/host/handlers'
import { forkLauncher } from '../../../src/main/host/launcher'
import { Store } from '../../../src/main/store'
import { expectedSum, expectedValue, nextEvent, tempApp } from './helpers'

const apps: Array<{ cleanup(): Promise<void> }> = []
function track<T extends { cleanup(): Promise<void> }>(a: T): T {
  apps.push(a)
  return a
}
afterEach(async () => {
  for (const a of apps.splice(0)) await a.cleanup()
})

/** Steps written by the selftest job, checked to be exactly 0..n-1 with the expected values. */
function checkRows(store: Store, jobId: string): number {
  const rows = store.selftest.steps(jobId)
  rows.forEach((r, i) => {
    expect(r.step).toBe(i)
    expect(r.value).toBeCloseTo(expectedValue(i), 12)
  })
  return rows.length
}

function enginePid(store: Store, jobId: string): number {
  const pid = store.jobs.unfinished().find((j) => j.id === jobId)?.pid
  if (!pid) throw new Error('no engine pid recorded')
  return pid
}

describe('jobs in engine processes', () => {
  it('selftest runs to completion in its own process; progress and events are streamed and recorded', async () => {
    const app = track(tempApp())
    const streamed: JobEvent[] = []
    app.jobs.subscribe((e) => streamed.push(e))
    const job = app.jobs.start('selftest', { steps: 6, stepMs: 20 })
    expect(job.status).toBe('running')
    const pid = enginePid(app.store, job.id)
    expect(pid).not.toBe(process.pid)
    const done = await app.jobs.wait(job.id)
    expect(done).toMatchObject({ status: 'completed', progress: 1, attempt: 1, resumable: false, error: null })
    expect((done.result as { sum: number }).sum).toBeCloseTo(expectedSum(6), 12)
    expect(checkRows(app.store, job.id)).toBe(6)
    const recorded = app.store.jobs.events({ jobId: job.id })
    expect(recorded.map((e) => e.type)).toEqual(['started', ...Array(6).fill('progress'), 'completed'])
    expect(streamed).toEqual(recorded)
    const last = recorded[6] as Extract<JobEvent, { type: 'progress' }>
    expect(last.progress).toMatchObject({ fraction: 1, phase: 'step 6/6', metrics: { step: 6 } })
  })

  it('SIGKILL mid-way: the database stays consistent, the job is failed + resumable, and resume continues from its state', async () => {
    const app = track(tempApp())
    const job: { id?: string } = {}
    const fifth = nextEvent(
      app,
      () => job.id,
      (e) => e.type === 'progress' && e.progress.fraction >= 5 / 40
    )
    const id = (job.id = app.jobs.start('selftest', { steps: 40, stepMs: 30 }).id)
    await fifth
    process.kill(enginePid(app.store, id), 'SIGKILL')
    const failed = await app.jobs.wait(id)
    expect(failed.status).toBe('failed')
    expect(failed.resumable).toBe(true)
    expect(failed.exitReason).toMatch(/killed by SIGKILL/)
    expect(failed.error).toMatch(/SIGKILL/)

    const check = Store.open(app.workspace.dbPath)
    expect(check.integrityCheck()).toEqual(['ok'])
    expect(check.foreignKeyCheck()).toEqual([])
    const written = checkRows(check, id)
    const state = check.jobs.getState(id) as { nextStep: number; sum: number }
    expect(written).toBeGreaterThanOrEqual(5)
    expect(written).toBeLessThan(40)
    // The row and the checkpoint were one transaction: they agree exactly.
    expect(state.nextStep).toBe(written)
    expect(state.sum).toBeCloseTo(expectedSum(written), 12)
    check.close()

    const resumed = app.jobs.resume(id)
    expect(resumed.status).toBe('running')
    const done = await app.jobs.wait(id)
    expect(done).toMatchObject({ status: 'completed', attempt: 2, resumable: false })
    expect((done.result as { sum: number }).sum).toBeCloseTo(expectedSum(40), 12)
    expect(checkRows(app.store, id)).toBe(40)
    const logs = app.store.jobs.events({ jobId: id }).filter((e) => e.type === 'log')
    expect(logs.map((e) => (e as { message: string }).message)).toContain(`resuming at step ${written} of 40`)
    expect(app.store.integrityCheck()).toEqual(['ok'])
  })

  it('SIGKILL during a burst of write transactions leaves no torn step', async () => {
    const app = track(tempApp())
    for (const delayMs of [150, 400]) {
      const job: { id?: string } = {}
      const first = nextEvent(
        app,
        () => job.id,
        (e) => e.type === 'progress'
      )
      const id = (job.id = app.jobs.start('selftest', { steps: 100_000, stepMs: 0 }).id)
      await first
      await new Promise((r) => setTimeout(r, delayMs))
      process.kill(enginePid(app.store, id), 'SIGKILL')
      expect((await app.jobs.wait(id)).status).toBe('failed')
      const check = Store.open(app.workspace.dbPath)
      expect(check.integrityCheck()).toEqual(['ok'])
      const written = check.selftest.steps(id).length
      expect(written).toBeGreaterThan(0)
      expect((check.jobs.getState(id) as { nextStep: number }).nextStep).toBe(written)
      check.close()
    }
  })

  it('cancel stops within one step; the cancelled job resumes to completion', async () => {
    const app = track(tempApp())
    const job: { id?: string } = {}
    const third = nextEvent(
      app,
      () => job.id,
      (e) => e.type === 'progress' && e.progress.fraction >= 3 / 12
    )
    const id = (job.id = app.jobs.start('selftest', { steps: 12, stepMs: 150 }).id)
    await third
    const stepsAtCancel = app.store.selftest.steps(id).length
    const t0 = Date.now()
    app.jobs.cancel(id)
    const cancelled = await app.jobs.wait(id)
    const took = Date.now() - t0
    expect(cancelled).toMatchObject({ status: 'cancelled', resumable: true })
    // One step is 150 ms; the bound is loose for a loaded CI machine, the step count is the exact check.
    expect(took).toBeLessThan(5000)
    const written = app.store.selftest.steps(id).length
    expect(written - stepsAtCancel).toBeLessThanOrEqual(1)
    expect((app.store.jobs.getState(id) as { nextStep: number }).nextStep).toBe(written)
    app.jobs.resume(id)
    const done = await app.jobs.wait(id)
    expect(done.status).toBe('completed')
    expect(checkRows(app.store, id)).toBe(12)
    expect(
      app.store.jobs
        .events({ jobId: id })
        .map((e) => e.type)
        .filter((t) => t !== 'progress' && t !== 'log')
    ).toEqual(['started', 'cancelled', 'started', 'completed'])
  })

  it('a job that throws is failed (resumable) with its message; resume of a completed job is refused', async () => {
    const app = track(tempApp())
    const job = app.jobs.start('selftest', { steps: 5, stepMs: 0, failAtStep: 2 })
    const failed = await app.jobs.wait(job.id)
    expect(failed).toMatchObject({ status: 'failed', resumable: true, exitReason: null })
    expect(failed.error).toBe('selftest failed at step 2 as asked (failAtStep)')
    expect(app.store.selftest.steps(job.id).length).toBe(2)
    const ok = app.jobs.start('selftest', { steps: 1, stepMs: 0 })
    await app.jobs.wait(ok.id)
    expect(() => app.jobs.resume(ok.id)).toThrow(/only a failed or cancelled job can be resumed/)
  })

  it('bad params and unknown kinds are typed errors naming the field; nothing is recorded', () => {
    const app = track(tempApp())
    let err: ApiCallError | undefined
    try {
      app.jobs.start('selftest', { steps: 0, extra: 1 })
    } catch (e) {
      err = e as ApiCallError
    }
    expect(err).toBeInstanceOf(ApiCallError)
    expect(err!.code).toBe('invalid_request')
    expect(err!.issues!.map((i) => i.path).sort()).toEqual(['params', 'params.steps'])
    expect(() => app.jobs.start('nope', {})).toThrow(/^unknown job kind 'nope' \(known: (\w+, )*selftest/)
    expect(app.store.jobs.list()).toEqual([])
  })

  const crashEntry = fileURLToPath(new URL('./fixtures/crash-engine.ts', import.meta.url))

  it('an engine that aborts natively or runs out of memory fails its job with the reason; the app goes on', async () => {
    const abortApp = track(
      tempApp({ launcher: forkLauncher({ entry: crashEntry, env: { ...process.env, FF_TEST_CRASH: 'abort' } }) })
    )
    const a = await abortApp.jobs.wait(abortApp.jobs.start('selftest', {}).id)
    expect(a).toMatchObject({ status: 'failed', resumable: true })
    expect(a.exitReason).toBe('engine process killed by SIGABRT (native abort)')

    const oomApp = track(
      tempApp({
        launcher: forkLauncher({
          entry: crashEntry,
          execArgv: ['--max-old-space-size=32'],
          env: { ...process.env, FF_TEST_CRASH: 'oom' }
        })
      })
    )
    const o = await oomApp.jobs.wait(oomApp.jobs.start('selftest', {}).id)
    expect(o.status).toBe('failed')
    expect(o.error).toMatch(/heap out of memory/i)

    const exitApp = track(
      tempApp({ launcher: forkLauncher({ entry: crashEntry, env: { ...process.env, FF_TEST_CRASH: 'exit' } }) })
    )
    const x = await exitApp.jobs.wait(exitApp.jobs.start('selftest', {}).id)
    expect(x.exitReason).toBe('engine process exited with code 3')
    // This process (the app) is alive and its store works.
    expect(exitApp.store.integrityCheck()).toEqual(['ok'])
  })

  it('the launcher is injectable; a launcher that cannot start fails the job with a clear message', async () => {
    let launched = 0
    const inner = forkLauncher()
    const counting = track(tempApp({ launcher: () => (launched++, inner()) }))
    await counting.jobs.wait(counting.jobs.start('selftest', { steps: 1, stepMs: 0 }).id)
    expect(launched).toBe(1)
    const broken = track(
      tempApp({
        launcher: () => {
          throw new Error('no engine binary')
        }
      })
    )
    const j = await broken.jobs.wait(broken.jobs.start('selftest', {}).id)
    expect(j).toMatchObject({ status: 'failed', error: 'could not start the engine process: no engine binary' })
  })

  it('jobs left running by a crashed app are failed + resumable at the next open; live ones are left alone', async () => {
    const app = track(tempApp())
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    const orphan = app.store.jobs.create({ kind: 'selftest', params: { steps: 2, stepMs: 0 } })
    app.store.jobs.start(orphan.id, dead)
    const alive = app.store.jobs.create({ kind: 'selftest', params: {} })
    app.store.jobs.start(alive.id, process.pid)
    const second = openApp({ workspaceDir: app.workspace.dir, onEngineOutput: () => undefined })
    try {
      expect(second.store.jobs.get(orphan.id)).toMatchObject({
        status: 'failed',
        resumable: true,
        error: 'the app stopped while this job was running'
      })
      expect(second.store.jobs.get(alive.id)!.status).toBe('running')
      second.jobs.resume(orphan.id)
      expect((await second.jobs.wait(orphan.id)).status).toBe('completed')
    } finally {
      await second.close()
    }
  })

  it('maxConcurrent queues jobs; a queued job can be cancelled before it starts', async () => {
    const app = track(tempApp({ maxConcurrent: 1 }))
    const a = app.jobs.start('selftest', { steps: 3, stepMs: 50 })
    const b = app.jobs.start('selftest', { steps: 1, stepMs: 0 })
    const c = app.jobs.start('selftest', { steps: 1, stepMs: 0 })
    expect(app.store.jobs.get(b.id)!.status).toBe('queued')
    expect(app.jobs.cancel(c.id).status).toBe('cancelled')
    expect((await app.jobs.wait(a.id)).status).toBe('completed')
    expect((await app.jobs.wait(b.id)).status).toBe('completed')
    expect(app.store.jobs.get(c.id)!.attempt).toBe(0)
  })

  it('subscribeJobs answers the backlog and then streams only newer events, without duplicates', async () => {
    const app = track(tempApp())
    const job = app.jobs.start('selftest', { steps: 8, stepMs: 40 })
    await nextEvent(
      app,
      () => job.id,
      (e) => e.type === 'progress' && e.progress.fraction >= 2 / 8
    )
    const live: JobEvent[] = []
    const session = createSession((_name, payload) => live.push(payload as JobEvent))
    const reply = await app.dispatch('subscribeJobs', { jobId: job.id }, session)
    expect(reply.ok).toBe(true)
    const backlog = (reply as { data: { backlog: JobEvent[] } }).data.backlog
    await app.jobs.wait(job.id)
    const all = app.store.jobs.events({ jobId: job.id })
    expect([...backlog, ...live].map((e) => e.seq)).toEqual(all.map((e) => e.seq))
    expect(backlog.length).toBeGreaterThanOrEqual(3)
    expect(live.at(-1)!.type).toBe('completed')
  })

  it('a job run by another app instance on the same workspace can be cancelled from this one', async () => {
    const owner = track(tempApp())
    const other = openApp({ workspaceDir: owner.workspace.dir, onEngineOutput: () => undefined })
    try {
      const box: { id?: string } = {}
      const second = nextEvent(
        owner,
        () => box.id,
        (e) => e.type === 'progress' && e.progress.fraction >= 2 / 50
      )
      const id = (box.id = owner.jobs.start('selftest', { steps: 50, stepMs: 100 }).id)
      await second
      expect(other.jobs.cancel(id).status).toBe('running')
      const seenByOther = await other.jobs.wait(id, 50)
      expect(seenByOther.status).toBe('cancelled')
      const done = await owner.jobs.wait(id)
      expect(done).toMatchObject({ status: 'cancelled', resumable: true })
      expect(owner.store.selftest.steps(id).length).toBeLessThan(50)
    } finally {
      await other.close()
    }
  })

  it('progress without metrics is thinned to a few events a second; the rest is kept', async () => {
    // Drive the host's message handling directly through a fake engine process.
    let send: ((m: unknown) => void) | undefined
    let exit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
    const fake = track(
      tempApp({
        launcher: () => ({
          pid: undefined,
          send: () => undefined,
          kill: () => exit?.(null, 'SIGKILL'),
          onOutput: () => undefined,
          onMessage: (l) => (send = l as (m: unknown) => void),
          onExit: (l) => (exit = l)
        })
      })
    )
    const j = fake.jobs.start('selftest', {})
    for (let i = 1; i <= 100; i++)
      send!({ t: 'progress', progress: { fraction: i / 200, phase: 'epoch 1', etaSeconds: null } })
    send!({
      t: 'progress',
      progress: { fraction: 0.5, phase: 'epoch 1', etaSeconds: null, metrics: { val_loss: 0.4 } }
    })
    send!({ t: 'progress', progress: { fraction: 0.51, phase: 'epoch 2', etaSeconds: null } })
    send!({ t: 'done', result: { ok: true } })
    exit!(0, null)
    const types = fake.store.jobs
      .events({ jobId: j.id })
      .map((e) => (e.type === 'progress' ? `${e.progress.phase}${e.progress.metrics ? '+m' : ''}` : e.type))
    expect(types).toEqual(['started', 'epoch 1', 'epoch 1+m', 'epoch 2', 'completed'])
    expect(fake.store.jobs.get(j.id)).toMatchObject({ status: 'completed', progress: 1 })
  })

  it('closing the app stops its running jobs as failed + resumable, saying why', async () => {
    const app = tempApp()
    const box: { id?: string } = {}
    const first = nextEvent(
      app,
      () => box.id,
      (e) => e.type === 'progress'
    )
    const id = (box.id = app.jobs.start('selftest', { steps: 100, stepMs: 50 }).id)
    await first
    await app.close()
    const store = Store.open(app.workspace.dbPath)
    try {
      expect(store.jobs.get(id)).toMatchObject({
        status: 'failed',
        resumable: true,
        error: 'the app closed while this job was running',
        exitReason: 'app closed'
      })
      expect(store.integrityCheck()).toEqual(['ok'])
    } finally {
      store.close()
      await app.cleanup()
    }
  })

  it('a job that ignores cancel is killed after the grace period and recorded as cancelled', async () => {
    const app = track(
      tempApp({
        cancelGraceSeconds: 0.5,
        launcher: forkLauncher({ entry: crashEntry, env: { ...process.env, FF_TEST_CRASH: 'hang' } })
      })
    )
    const id = app.jobs.start('selftest', {}).id
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    app.jobs.cancel(id)
    const done = await app.jobs.wait(id)
    expect(done).toMatchObject({ status: 'cancelled', resumable: true })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450)
  })
})
