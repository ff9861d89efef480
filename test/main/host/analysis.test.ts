// The analysis commands on real engine output: a fuse job (its own engine process) on a tiny
// dataset and six members, then modelCurves / compareMethods checked against the job's own
// report and the metrics module; estimateRun against the plan builder; inspectDataset on files.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type {
  MethodComparison,
  ModelCurvesReport,
  Reply,
  RunEstimate,
  DatasetInspection,
  BackendReport
} from '../../../src/shared/api'
import { createSession } from '../../../src/main/host/handlers'
import { binaryAuroc } from '../../../src/main/engine/evaluate/metrics'
import { parsePredictionsCsv } from '../../../src/main/engine/evaluate/model'
import { predictionsPath } from '../../../src/main/host/jobs/fuse'
import { writeDataset, writeMembers } from '../engine/fusion/tiny'
import { tempApp } from './helpers'

const app = tempApp()
const session = createSession(() => undefined)
const classes = ['q0', 'q1', 'q2']
const TEST_N = 50
let fuseJobId = ''
interface Row {
  method: string
  modelId: string | null
  test: Record<string, { value: number }>
  vsBest: { difference: number; ci: [number, number]; p: number } | null
}
let rows: Row[] = []
let predictionFiles: Record<string, string> = {}

async function call<T>(command: string, request: unknown): Promise<T> {
  const reply: Reply = await app.dispatch(command, request, session)
  if (!reply.ok) throw new Error(`${command}: ${reply.error.code} ${reply.error.message}`)
  return reply.data as T
}

beforeAll(async () => {
  const { store, workspace } = app
  store.datasets.create({
    id: 'ds_tiny',
    name: 'tiny',
    format: 'synthetic',
    task: 'single',
    status: 'ready',
    classes,
    counts: { train: 32, val: 40, test: TEST_N },
    dir: 'datasets/ds_tiny'
  })
  writeDataset(workspace.datasetDir('ds_tiny'), classes, { train: 32, val: 40, test: TEST_N }, 5)
  store.runs.create({ id: 'run_tiny', name: 'tiny fgg', datasetId: 'ds_tiny', kind: 'fgg', config: { metric: 'acc' } })
  for (const m of await writeMembers(join(workspace.dir, 'staging'), classes)) {
    const rec = store.runs.createMember({
      id: `mem_${m.id}`,
      runId: 'run_tiny',
      name: m.id,
      hyperparams: { lr: m.hparams.lr as number, seed: m.hparams.seed as number }
    })
    const dir = workspace.memberDir('run_tiny', rec.id)
    cpSync(m.dir, dir, { recursive: true })
    store.runs.updateMember(rec.id, {
      checkpointPath: workspace.toRelative(dir),
      status: 'done',
      epochs: 4,
      wallSeconds: 2
    })
  }
  const job = app.jobs.start('fuse', {
    runId: 'run_tiny',
    methods: ['best', 'uniform', 'greedy', 'gou', 'ensemble'],
    resamples: 300,
    seed: 3
  })
  const done = await app.jobs.wait(job.id)
  expect(done.status, done.error ?? '').toBe('completed')
  fuseJobId = job.id
  rows = (done.result as unknown as { methods: Row[] }).methods
  predictionFiles = (done.result as unknown as { predictions: Record<string, string> }).predictions
}, 240_000)
afterAll(() => app.cleanup())

/** Area under a polyline by trapezoids (independent of the metrics module's rank formula). */
const trapezoid = (pts: { fpr: number; tpr: number }[]): number =>
  pts.slice(1).reduce((a, p, i) => a + ((p.fpr - pts[i].fpr) * (p.tpr + pts[i].tpr)) / 2, 0)

describe("the fuse job's stored test predictions", () => {
  it("one CSV per method and member; the ensemble's rows are the mean of the six members'", () => {
    expect(Object.keys(predictionFiles).sort()).toEqual(['best', 'ensemble', 'gou', 'greedy', 'uniform'])
    const read = (rel: string) => parsePredictionsCsv(readFileSync(app.workspace.resolve(rel), 'utf8'))
    const members = app.store.runs
      .listMembers('run_tiny')
      .map((m) => read(predictionsPath('run_tiny', m.id)).predictions.probs)
    const ensemble = read(predictionFiles.ensemble)
    expect(ensemble.predictions.probs.length).toBe(TEST_N * classes.length)
    expect(Array.from(ensemble.rows)).toEqual(Array.from({ length: TEST_N }, (_, i) => i))
    ensemble.predictions.probs.forEach((v, i) =>
      expect(v).toBeCloseTo(members.reduce((a, p) => a + p[i], 0) / members.length, 6)
    )
    expect(predictionFiles.best).toBe(predictionsPath('run_tiny', rows[0].modelId!))
  })
})

describe('modelCurves', () => {
  it("the best member: confusion counts sum to n with the test accuracy on the diagonal; the AUROC is the fuse report's", async () => {
    const best = rows.find((r) => r.method === 'best')!
    const c = await call<ModelCurvesReport>('modelCurves', { runId: 'run_tiny', modelId: best.modelId })
    expect(c.modelKind).toBe('member')
    expect(c.classes).toEqual(classes)
    expect(c.n).toBe(TEST_N)
    const cells = c.confusion!.flat()
    expect(cells.reduce((a, v) => a + v, 0)).toBe(TEST_N)
    expect(c.confusion!.reduce((a, row, i) => a + row[i], 0) / TEST_N).toBeCloseTo(best.test.acc.value, 12)
    expect(c.auc).toBeCloseTo(best.test.auc.value, 6)
    // macro one-vs-rest: the mean of the per-class areas, each the trapezoid area of its own curve
    expect(c.roc.map((r) => r.name)).toEqual(classes)
    expect(c.roc.reduce((a, r) => a + r.auc, 0) / c.roc.length).toBeCloseTo(c.auc!, 12)
    for (const r of c.roc) {
      expect(trapezoid(r.points)).toBeCloseTo(r.auc, 12)
      expect(r.points[0]).toEqual({ fpr: 0, tpr: 0 })
      expect(r.points.at(-1)).toEqual({ fpr: 1, tpr: 1 })
    }
    // positives per class are the confusion matrix's row sums
    expect(c.roc.map((r) => r.positives)).toEqual(c.confusion!.map((row) => row.reduce((a, v) => a + v, 0)))
  })

  it('a soup: the same checks against its row; an unknown or foreign model is not_found', async () => {
    const uniform = rows.find((r) => r.method === 'uniform')!
    const c = await call<ModelCurvesReport>('modelCurves', { runId: 'run_tiny', modelId: uniform.modelId })
    expect(c.modelKind).toBe('soup')
    expect(c.auc).toBeCloseTo(uniform.test.auc.value, 6)
    expect(c.confusion!.reduce((a, row, i) => a + row[i], 0) / TEST_N).toBeCloseTo(uniform.test.acc.value, 12)
    const y = Uint8Array.from({ length: 4 }, (_, i) => i % 2)
    expect(binaryAuroc(y, [0.1, 0.9, 0.2, 0.8])).toBe(1) // sanity of the reference used above
    const missing = await app.dispatch('modelCurves', { runId: 'run_tiny', modelId: 'nope' }, session)
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found' } })
  })
})

describe('compareMethods', () => {
  it("X vs best reproduces the fuse job's own paired bootstrap (same images, resamples and seed)", async () => {
    for (const r of rows.filter((x) => x.vsBest)) {
      const cmp = await call<MethodComparison>('compareMethods', { jobId: fuseJobId, a: r.method, b: 'best' })
      expect(cmp.metric).toBe('acc')
      expect(cmp.n).toBe(TEST_N)
      expect(cmp.resamples).toBe(300)
      expect(cmp.difference).toBeCloseTo(r.vsBest!.difference, 12)
      expect(cmp.ci[0]).toBeCloseTo(r.vsBest!.ci[0], 12)
      expect(cmp.ci[1]).toBeCloseTo(r.vsBest!.ci[1], 12)
      expect(cmp.p).toBeCloseTo(r.vsBest!.p, 12)
    }
  })

  it('any two methods (ensemble included): the difference is the difference of their test scores, antisymmetric', async () => {
    const by = new Map(rows.map((r) => [r.method, r]))
    const ab = await call<MethodComparison>('compareMethods', {
      jobId: fuseJobId,
      a: 'gou',
      b: 'ensemble',
      metric: 'f1'
    })
    expect(ab.difference).toBeCloseTo(by.get('gou')!.test.f1.value - by.get('ensemble')!.test.f1.value, 6)
    const ba = await call<MethodComparison>('compareMethods', {
      jobId: fuseJobId,
      a: 'ensemble',
      b: 'gou',
      metric: 'f1'
    })
    expect(ba.difference).toBeCloseTo(-ab.difference!, 12)
    expect(ba.ci[0]).toBeCloseTo(-ab.ci[1]!, 12)
    expect(ba.p).toBeCloseTo(ab.p!, 12)
    expect(ab.p).toBeGreaterThan(0)
    expect(ab.p).toBeLessThanOrEqual(1)
    const unknown = await app.dispatch('compareMethods', { jobId: fuseJobId, a: 'gog', b: 'best' }, session)
    expect(unknown).toMatchObject({ ok: false, error: { code: 'not_found' } })
  })
})

describe('estimateRun', () => {
  it('counts members and epochs with the plan builder; times them by the median speed of past members on this backend', async () => {
    const plan = {
      datasetId: 'ds_tiny',
      plan: 'fgg',
      arch: 'smallcnn',
      lrs: [1e-3, 1e-4],
      epochs: 1,
      fggEpochs: 2,
      cycle: 2
    }
    const before = await call<RunEstimate>('estimateRun', plan)
    // 2 groups × (1 base + 1 snapshot); 2 × (1 + 2) epochs in 4 trainings
    expect(before).toMatchObject({
      members: 4,
      groups: 2,
      epochs: 6,
      trainings: 4,
      trainImages: 32,
      seconds: null,
      secondsPerImage: null
    })
    expect(before.basis).toMatch(/^not measured yet: no finished smallcnn model/)
    // memory: smallcnn at this size fits the default limit in one pass; 64 MiB cannot hold one engine process
    expect(before.memory).toMatchObject({
      limitGiven: false,
      batchSize: 128,
      microBatch: 128,
      microBatches: 1,
      fits: true,
      message: null
    })
    expect(before.memory!.expectedPeakMiB).toBeGreaterThan(50)
    expect(before.memory!.expectedPeakMiB).toBeLessThanOrEqual(before.memory!.limitMiB)
    expect(before.memory!.limitMiB).toBeLessThanOrEqual(4096)
    const tight = await call<RunEstimate>('estimateRun', { ...plan, memoryLimitMiB: 64 })
    expect(tight.memory).toMatchObject({ limitMiB: 64, limitGiven: true, fits: false })
    expect(tight.memory!.message).toMatch(
      /^smallcnn at \d+×\d+×3 needs about \d+ MiB per engine process to train even one image at a time .*more than the memory limit of 64 MiB: import the data at a smaller size .*--arch.*--memory-limit/
    )
    const { backend } = await call<BackendReport>('backendInfo', {})
    expect(before.backend).toBe(backend)
    // three measured members: 2 s / 4 epochs, 4 s / 4, 8 s / 4 over 32 images → median 4 / 4 / 32
    ;[2, 4, 8].forEach((s, i) =>
      app.store.runs.updateMember(`mem_m0${i}`, {
        backend,
        wallSeconds: s,
        hyperparams: { lr: 1e-3, seed: i, arch: 'smallcnn' }
      })
    )
    const after = await call<RunEstimate>('estimateRun', plan)
    expect(after.secondsPerImage).toBeCloseTo(4 / 4 / 32, 12)
    expect(after.seconds).toBeCloseTo((6 * 32 * (4 / 4 / 32)) / Math.min(after.workers, 4), 9)
    expect(after.basis).toMatch(/^median speed of 3 finished smallcnn models/)
    // METHOD.md's reference plans: the grid is 48 members and 2,400 epochs, FGG 48 members and 536 epochs
    expect(await call<RunEstimate>('estimateRun', { datasetId: 'ds_tiny', plan: 'grid' })).toMatchObject({
      members: 48,
      epochs: 2400,
      groups: 8
    })
    expect(await call<RunEstimate>('estimateRun', { datasetId: 'ds_tiny', plan: 'fgg' })).toMatchObject({
      members: 48,
      epochs: 536,
      groups: 8
    })
    const bad = await app.dispatch('estimateRun', { ...plan, cycle: 3 }, session)
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_request' } })
  })
})

describe('inspectDataset', () => {
  it('a CSV manifest: the format, every column with its detected role, classes and the split column', async () => {
    const dir = join(app.workspace.dir, 'csvdata')
    mkdirSync(join(dir, 'img'), { recursive: true })
    const png = await sharp({ create: { width: 6, height: 6, channels: 3, background: '#808080' } })
      .png()
      .toBuffer()
    const lines = ['filename,diagnosis,fold,age']
    const spec = [
      ['a', 'mel', 'train'],
      ['b', 'nev', 'train'],
      ['c', 'nev', 'test'],
      ['d', 'mel', 'val'],
      ['e', 'nev', 'train']
    ]
    for (const [f, dx, fold] of spec) {
      writeFileSync(join(dir, 'img', `${f}.png`), png)
      lines.push(`img/${f}.png,${dx},${fold},40`)
    }
    lines.push('img/zz.png,mel,train,50') // names a missing file
    writeFileSync(join(dir, 'labels.csv'), lines.join('\n') + '\n')
    const r = await call<DatasetInspection>('inspectDataset', { path: dir })
    expect(r.format).toBe('csv')
    expect(r.columns).toMatchObject({
      manifest: 'labels.csv',
      header: ['filename', 'diagnosis', 'fold', 'age'],
      path: 'filename',
      label: 'diagnosis',
      split: 'fold',
      labelKind: 'class'
    })
    expect(r.classes).toEqual(['mel', 'nev'])
    expect(r.perClass).toEqual({ mel: 2, nev: 3 })
    expect(r.perSplit).toEqual({ train: 3, val: 1, test: 1 })
    expect(r.ownSplit).toBe(true)
    expect(r.issueCount).toBe(1)
    expect(r.issues[0]).toEqual({ file: 'img/zz.png', reason: 'file not found in the chosen folder' })
    // a correction: no split column → the import would make its own split
    const fixed = await call<DatasetInspection>('inspectDataset', {
      path: dir,
      columns: { path: 'filename', label: 'diagnosis', split: 'age' }
    })
    expect(fixed.columns?.split).toBe('age')
    const wrong = await app.dispatch('inspectDataset', { path: dir, columns: { label: 'nope' } }, session)
    expect(wrong).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringContaining('column "nope" not found') }
    })
  })

  it('a folder of class folders under split folders; a missing path is not_found', async () => {
    const dir = join(app.workspace.dir, 'folderdata')
    const png = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#404040' } })
      .png()
      .toBuffer()
    for (const [split, cls, n] of [
      ['train', 'normal', 3],
      ['train', 'pneumonia', 2],
      ['test', 'normal', 1]
    ] as const) {
      mkdirSync(join(dir, split, cls), { recursive: true })
      for (let i = 0; i < n; i++) writeFileSync(join(dir, split, cls, `${i}.png`), png)
    }
    const r = await call<DatasetInspection>('inspectDataset', { path: dir })
    expect(r).toMatchObject({
      format: 'folder',
      task: 'single',
      classes: ['normal', 'pneumonia'],
      perClass: { normal: 4, pneumonia: 2 },
      perSplit: { train: 5, test: 1 },
      items: 6,
      ownSplit: true,
      issueCount: 0
    })
    expect(r.columns).toBeUndefined()
    expect(await app.dispatch('inspectDataset', { path: join(dir, 'nope') }, session)).toMatchObject({
      ok: false,
      error: { code: 'not_found' }
    })
  })
})
