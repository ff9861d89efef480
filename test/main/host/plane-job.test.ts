// The 'plane' job in its engine process: cancelled mid-grid, resumed, it keeps the grid points
// it had scored (not scored again) and completes the same grid.
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Rng } from '../../../src/main/engine/data/rng'
import { getArch } from '../../../src/main/engine/models'
import { weightsOf, writeCheckpoint } from '../../../src/main/engine/models/checkpoint'
import type { PlaneResult } from '../../../src/shared/api'
import { SIZE, writeDataset } from '../engine/fusion/tiny'
import { nextEvent, tempApp } from './helpers'

const staging = mkdtempSync(join(tmpdir(), 'ff-plane-job-'))
const apps: { cleanup(): Promise<void> }[] = []
afterAll(async () => {
  for (const a of apps) await a.cleanup()
  rmSync(staging, { recursive: true, force: true })
})

describe('plane job', () => {
  it('cancel keeps the grid points scored; resume scores only the rest and completes the grid', async () => {
    const app = tempApp()
    apps.push(app)
    const classes = ['q0', 'q1', 'q2']
    app.store.datasets.create({
      id: 'ds_t',
      name: 't',
      format: 'synthetic',
      task: 'single',
      status: 'ready',
      classes,
      counts: { train: 16, val: 256, test: 16 },
      dir: 'datasets/ds_t'
    })
    writeDataset(app.workspace.datasetDir('ds_t'), classes, { train: 16, val: 256, test: 16 }, 2)
    app.store.runs.create({ id: 'run_t', name: 't', datasetId: 'ds_t', kind: 'grid', config: { metric: 'acc' } })
    const meta = {
      arch: 'smallcnn',
      archOptions: {},
      inputShape: [SIZE, SIZE, 3] as [number, number, number],
      classes,
      task: 'single' as const,
      output: 'logits' as const
    }
    const model = getArch('smallcnn').build({ inputShape: [SIZE, SIZE, 3], numClasses: 3, seed: 1 })
    const start = weightsOf(model)
    model.dispose()
    for (const i of [0, 1, 2]) {
      const rng = new Rng(i)
      const id = `mem_${i}`
      await writeCheckpoint(join(staging, id), {
        meta,
        weights: start.map((w) => ({ ...w, data: w.data.map((v) => v + 0.05 * rng.normal()) }))
      })
      const dir = app.workspace.memberDir('run_t', id)
      cpSync(join(staging, id), dir, { recursive: true })
      app.store.runs.createMember({ id, runId: 'run_t', name: id })
      app.store.runs.updateMember(id, { checkpointPath: app.workspace.toRelative(dir), status: 'done' })
    }
    const job: { id?: string } = {}
    const quarter = nextEvent(
      app,
      () => job.id,
      (e) => e.type === 'progress' && e.progress.fraction >= 0.25,
      300_000
    )
    const id = (job.id = app.jobs.start('plane', { models: ['mem_0', 'mem_1', 'mem_2'], grid: 6, runId: 'run_t' }).id)
    await quarter
    app.jobs.cancel(id)
    expect((await app.jobs.wait(id)).status).toBe('cancelled')
    const kept = (app.store.jobs.getState(id) as { done: Record<string, { loss: number }> }).done
    const keptCount = Object.keys(kept).length
    expect(keptCount).toBeGreaterThanOrEqual(9) // a quarter of 36
    expect(keptCount).toBeLessThan(36)
    app.jobs.resume(id)
    const done = await app.jobs.wait(id)
    expect(done.status).toBe('completed')
    const r = done.result as unknown as PlaneResult
    expect(r.grid).toHaveLength(36)
    for (const [i, p] of Object.entries(kept)) expect(r.grid[Number(i)].loss).toBe(p.loss)
    const logs = app.store.jobs
      .events({ jobId: id })
      .filter((e) => e.type === 'log')
      .map((e) => (e as { message: string }).message)
    expect(logs.some((m) => m === `resuming: ${keptCount} grid points already scored`)).toBe(true)
    expect(r.models.map((m) => m.id)).toEqual(['mem_0', 'mem_1', 'mem_2'])
  })
})
