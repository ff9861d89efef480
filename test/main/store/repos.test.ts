import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Store } from '../../../src/main/store'

let dir: string
let store: Store
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ff-repos-'))
  store = Store.open(join(dir, 'fissionfusion.db'))
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

function seed(): { runId: string; base: string; child: string } {
  store.datasets.create({
    id: 'ds_a',
    name: 'retina',
    format: 'npz',
    task: 'single',
    classes: ['0', '1'],
    counts: { train: 10, val: 2, test: 3 }
  })
  const run = store.runs.create({ name: 'fgg', datasetId: 'ds_a', kind: 'fgg', config: { lrs: [1e-3, 1e-4] } })
  const base = store.runs.createMember({
    runId: run.id,
    name: 'base',
    groupKey: '0.001',
    hyperparams: { lr: 1e-3, seed: 1 }
  })
  const child = store.runs.createMember({
    runId: run.id,
    name: 'fgg-1',
    parentId: base.id,
    groupKey: '0.001',
    hyperparams: { lr: 1e-3 }
  })
  return { runId: run.id, base: base.id, child: child.id }
}

describe('repositories', () => {
  it('round-trip datasets with JSON fields and updates', () => {
    const d = store.datasets.create({
      name: 'x',
      format: 'csv',
      task: 'multilabel',
      classes: ['a', 'b'],
      counts: { train: 4 },
      meta: { size: [28, 28] }
    })
    expect(d.id).toMatch(/^ds_/)
    expect(d.dir).toBe(`datasets/${d.id}`)
    expect(d.status).toBe('importing')
    const u = store.datasets.update(d.id, { status: 'ready', counts: { train: 4, val: 1 } })
    expect(u).toMatchObject({
      status: 'ready',
      counts: { train: 4, val: 1 },
      classes: ['a', 'b'],
      meta: { size: [28, 28] }
    })
    expect(store.datasets.list().map((x) => x.id)).toEqual([d.id])
  })

  it('record members with lineage, and an epoch (metrics + member fields) in one write', () => {
    const { runId, base, child } = seed()
    expect(store.runs.getMember(child)!.parentId).toBe(base)
    store.runs.recordEpoch(
      base,
      1,
      { train_loss: 0.9, val_loss: 1.1 },
      { epochs: 1, wallSeconds: 2.5, backend: 'wasm', checkpointPath: `runs/${runId}/members/${base}/weights.bin` }
    )
    store.runs.recordEpoch(base, 2, { train_loss: 0.7, val_loss: 1.0 }, { epochs: 2, wallSeconds: 5 })
    store.runs.recordEpoch(base, 2, { val_loss: 0.95 }) // a re-recorded epoch replaces its value
    const m = store.runs.getMember(base)!
    expect(m).toMatchObject({
      epochs: 2,
      wallSeconds: 5,
      backend: 'wasm',
      checkpointPath: `runs/${runId}/members/${base}/weights.bin`,
      hyperparams: { lr: 1e-3, seed: 1 }
    })
    expect(store.runs.listMetrics(base)).toEqual([
      { memberId: base, epoch: 1, name: 'train_loss', value: 0.9 },
      { memberId: base, epoch: 1, name: 'val_loss', value: 1.1 },
      { memberId: base, epoch: 2, name: 'train_loss', value: 0.7 },
      { memberId: base, epoch: 2, name: 'val_loss', value: 0.95 }
    ])
  })

  it('an epoch whose member update fails records none of its metrics', () => {
    const { base } = seed()
    expect(() => store.runs.recordEpoch(base, 1, { loss: 1 }, { epochs: -1 })).toThrow(/CHECK/)
    expect(store.runs.listMetrics(base)).toEqual([])
  })

  it('a soup and its ingredients are one transaction', () => {
    const { runId, base, child } = seed()
    const s = store.soups.create(
      { runId, name: 'greedy', method: 'greedy', selectionMetric: 'accuracy', valScore: 0.8 },
      [
        { memberId: base, childSoupId: null, weight: 0.5, kept: true, stepScore: 0.78 },
        { memberId: child, childSoupId: null, weight: 0.5, kept: true, stepScore: 0.8 }
      ]
    )
    expect(store.soups.ingredients(s.id).map((i) => [i.position, i.memberId, i.kept, i.stepScore])).toEqual([
      [0, base, true, 0.78],
      [1, child, true, 0.8]
    ])
    // An ingredient naming both a member and a soup violates the CHECK: nothing of the soup remains.
    expect(() =>
      store.soups.create({ id: 'soup_bad', runId, name: 'bad', method: 'uniform', selectionMetric: 'accuracy' }, [
        { memberId: base, childSoupId: null, weight: 1, kept: true, stepScore: null },
        { memberId: base, childSoupId: s.id, weight: 1, kept: true, stepScore: null }
      ])
    ).toThrow(/CHECK/)
    expect(store.soups.get('soup_bad')).toBeUndefined()
    expect(store.soups.list(runId).map((x) => x.id)).toEqual([s.id])
    // Hierarchical: a global soup over local soups.
    const g = store.soups.create({ runId, name: 'GoG', method: 'gog', groupBy: 'lr', selectionMetric: 'accuracy' }, [
      { memberId: null, childSoupId: s.id, weight: 1, kept: true, stepScore: 0.8 }
    ])
    expect(store.soups.ingredients(g.id)[0].childSoupId).toBe(s.id)
  })

  it('evaluations are replaced per model/dataset/split/metric and filtered by run', () => {
    const { runId, base } = seed()
    const s = store.soups.create({ runId, name: 'u', method: 'uniform', selectionMetric: 'accuracy' })
    store.evaluations.record([
      {
        memberId: base,
        datasetId: 'ds_a',
        split: 'test',
        metric: 'accuracy',
        value: 0.7,
        ciLo: 0.6,
        ciHi: 0.8,
        n: 400
      },
      { soupId: s.id, datasetId: 'ds_a', split: 'test', metric: 'accuracy', value: 0.75 }
    ])
    store.evaluations.record([
      {
        memberId: base,
        datasetId: 'ds_a',
        split: 'test',
        metric: 'accuracy',
        value: 0.72,
        ciLo: 0.65,
        ciHi: 0.79,
        n: 400
      }
    ])
    const all = store.evaluations.list({ runId })
    expect(all.map((e) => [e.memberId ?? e.soupId, e.value])).toEqual([
      [s.id, 0.75],
      [base, 0.72]
    ])
    expect(store.evaluations.list({ memberId: base })[0]).toMatchObject({ ciLo: 0.65, ciHi: 0.79, n: 400 })
    expect(store.evaluations.list({ split: 'val' })).toEqual([])
    expect(() => store.evaluations.record([{ datasetId: 'ds_a', split: 'test', metric: 'x', value: 1 }])).toThrow(
      /CHECK/
    )
  })

  it('exports', () => {
    const { runId } = seed()
    const s = store.soups.create({ runId, name: 'u', method: 'uniform', selectionMetric: 'accuracy' })
    const x = store.evaluations.createExport({
      soupId: s.id,
      memberId: null,
      format: 'onnx',
      path: 'exports/u.onnx',
      bytes: 1234,
      sha256: 'ab'.repeat(32)
    })
    expect(store.evaluations.listExports()).toEqual([x])
  })

  it('jobs: transitions and their events are recorded together, in order', () => {
    const j = store.jobs.create({ kind: 'selftest', params: { steps: 3 } })
    expect(j).toMatchObject({ status: 'queued', attempt: 0, progress: 0, state: null })
    const started = store.jobs.start(j.id, 123)
    expect(started).toMatchObject({ type: 'started', attempt: 1, jobId: j.id })
    store.jobs.progress(j.id, { fraction: 0.5, phase: 'half', etaSeconds: 3 })
    store.jobs.setState(j.id, { nextStep: 2 })
    store.jobs.fail(j.id, 'boom', 'engine process killed by SIGKILL', true)
    expect(store.jobs.get(j.id)).toMatchObject({
      status: 'failed',
      progress: 0.5,
      phase: 'half',
      resumable: true,
      error: 'boom',
      state: { nextStep: 2 }
    })
    store.jobs.requeue(j.id)
    store.jobs.start(j.id, 124)
    store.jobs.complete(j.id, { ok: 1 })
    const events = store.jobs.events({ jobId: j.id })
    expect(events.map((e) => e.type)).toEqual(['started', 'progress', 'failed', 'started', 'completed'])
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b))
    expect(events[3]).toMatchObject({ type: 'started', attempt: 2 })
    expect(store.jobs.get(j.id)).toMatchObject({
      status: 'completed',
      progress: 1,
      attempt: 2,
      result: { ok: 1 },
      resumable: false
    })
    expect(store.jobs.events({ jobId: j.id, afterSeq: events[2].seq }).map((e) => e.type)).toEqual([
      'started',
      'completed'
    ])
  })

  it("two connections (as app and engine processes have) see each other's writes", () => {
    const other = Store.open(join(dir, 'fissionfusion.db'))
    const j = store.jobs.create({ kind: 'selftest', params: {} })
    other.jobs.setState(j.id, { nextStep: 7 })
    expect(store.jobs.getState(j.id)).toEqual({ nextStep: 7 })
    other.close()
  })

  it('refuses absolute or escaping paths: only workspace-relative ones are stored', () => {
    const { runId, base } = seed()
    for (const bad of ['/home/alice/w.bin', 'C:\\Users\\w.bin', '../other/w.bin', 'runs\\x\\w.bin']) {
      expect(() => store.runs.updateMember(base, { checkpointPath: bad })).toThrow(
        /checkpointPath must be a path relative to the workspace/
      )
      expect(() =>
        store.soups.create({ runId, name: 's', method: 'uniform', selectionMetric: 'accuracy', checkpointPath: bad })
      ).toThrow(/relative/)
      expect(() =>
        store.evaluations.createExport({
          soupId: null,
          memberId: base,
          format: 'onnx',
          path: bad,
          bytes: 1,
          sha256: 'x'
        })
      ).toThrow(/relative/)
    }
    expect(store.runs.getMember(base)!.checkpointPath).toBeNull()
    expect(store.soups.list(runId)).toEqual([])
  })
})
