// The merge methods end to end through the CLI (`fissionfusion fuse`, a job in an engine process)
// on a tiny FGG-like run whose members were fine-tuned from the run's recorded start/.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Rng } from '../../../src/main/engine/data/rng'
import { getArch } from '../../../src/main/engine/models'
import { weightsOf, writeCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { cliJson } from '../../fixtures/process'
import { SIZE, writeDataset } from '../engine/fusion/tiny'

const ws = mkdtempSync(join(tmpdir(), 'ff-merge-cli-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))
const cli = (...args: string[]): Promise<unknown> => cliJson(ws, 'wasm', args, { FF_THREADS: '1' })
const classes = ['q0', 'q1', 'q2']

beforeAll(async () => {
  const workspace = Workspace.open(ws)
  const store = Store.open(workspace.dbPath)
  try {
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
    store.runs.create({
      id: 'run_fgg',
      name: 'tiny fgg',
      datasetId: 'ds_tiny',
      kind: 'fgg',
      config: { metric: 'acc', lpEpochs: 0 }
    })
    const meta = {
      arch: 'smallcnn',
      archOptions: {},
      inputShape: [SIZE, SIZE, 3] as [number, number, number],
      classes,
      task: 'single' as const,
      output: 'logits' as const,
      normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }
    }
    const model = getArch('smallcnn').build({ inputShape: [SIZE, SIZE, 3], numClasses: 3, seed: 10 })
    const start = weightsOf(model)
    model.dispose()
    await writeCheckpoint(join(workspace.runDir('run_fgg'), 'start'), { meta, weights: start })
    // two learning-rate lineages of three snapshots each: a shared direction per lineage plus noise
    for (const [g, lr] of [1e-3, 1e-4].entries()) {
      const rng = new Rng(40 + g)
      const dir = start.map((w) => Float32Array.from(w.data, () => rng.normal()))
      let parent: string | null = null
      for (const e of [0, 1, 2]) {
        const w = start.map((x, t) => ({
          ...x,
          data: x.kind === 'trainable' ? x.data.map((v, j) => v + 0.08 * dir[t][j] + 0.03 * rng.normal()) : x.data
        }))
        const id = `mem_${g}${e}`
        const rec = store.runs.createMember({
          id,
          runId: 'run_fgg',
          name: id,
          parentId: parent,
          hyperparams: { lr, seed: 0, epoch: e }
        })
        const d = workspace.memberDir('run_fgg', rec.id)
        const staging = join(ws, 'staging', id)
        await writeCheckpoint(staging, { meta, weights: w })
        cpSync(staging, d, { recursive: true })
        store.runs.updateMember(id, {
          checkpointPath: workspace.toRelative(d),
          status: 'done',
          epochs: 2,
          wallSeconds: 1
        })
        parent = id
      }
    }
  } finally {
    store.close()
  }
})

interface Row {
  method: string
  modelId: string | null
  val: number
  test: Record<string, { value: number; ci: [number, number] }>
  epochs: number
  seconds: number
  accounting: { valEvaluations: number; soupSeconds: number }
  tree: { id: string; method?: string; children: { method?: string; detail?: string }[] }
}

describe('fuse with the merge methods', () => {
  it("reports every method, the paper's and the merges, with bootstrap CIs and compute; the tree names each level's method", async () => {
    const methods = [
      'best',
      'uniform',
      'greedy',
      'gou',
      'gog',
      'modelstock',
      'ties',
      'dare',
      'taskarith',
      'hier:greedy/modelstock',
      'hier:greedy/uniform'
    ]
    const r = (await cli('fuse', '--run', 'run_fgg', '--methods', methods.join(','), '--resamples', '200')) as {
      methods: Row[]
    }
    expect(r.methods.map((m) => m.method)).toEqual(methods)
    for (const m of r.methods) {
      expect(Object.keys(m.test).sort()).toEqual(['acc', 'auc', 'f1', 'kappa', 'recall'])
      for (const v of Object.values(m.test)) {
        expect(v.ci[0]).toBeLessThanOrEqual(v.value)
        expect(v.ci[1]).toBeGreaterThanOrEqual(v.value)
      }
      expect(m.epochs).toBe(12)
      expect(m.seconds).toBeGreaterThanOrEqual(6)
      expect(Number.isFinite(m.val)).toBe(true)
    }
    const by = new Map(r.methods.map((m) => [m.method, m]))
    // task arithmetic searched its λ grid on validation; the others need one evaluation of their own
    expect(by.get('taskarith')!.accounting.valEvaluations).toBe(10)
    expect(by.get('taskarith')!.tree.children[0].detail).toMatch(/^λ=/)
    expect(by.get('modelstock')!.accounting.valEvaluations).toBe(1)
    expect(by.get('modelstock')!.tree.method).toBe('modelstock')
    const h = by.get('hier:greedy/modelstock')!
    expect(h.tree.method).toBe('greedy')
    expect(h.tree.children.map((c) => c.method)).toEqual(['modelstock', 'modelstock'])
    // hier:greedy/uniform is GoU under its general name
    expect(by.get('hier:greedy/uniform')!.val).toBe(by.get('gou')!.val)
    expect(by.get('hier:greedy/uniform')!.test.acc.value).toBe(by.get('gou')!.test.acc.value)
    // the merges are new models, saved as soups
    for (const id of ['modelstock', 'ties', 'dare', 'taskarith', 'hier:greedy/modelstock']) {
      const soup = by.get(id)!.modelId!
      expect(soup).toMatch(/^soup_/)
      expect(existsSync(join(ws, 'runs', 'run_fgg', 'soups', soup, 'model.json'))).toBe(true)
    }
    // and exported as one ONNX model with its card
    const out = join(ws, 'modelstock.onnx')
    const ex = (await cli(
      'export',
      '--model',
      by.get('hier:greedy/modelstock')!.modelId!,
      '--format',
      'onnx',
      '--out',
      out,
      '--card'
    )) as { file: string; card: { method: { kind: string; ingredients: unknown[] } } }
    expect(existsSync(out)).toBe(true)
    expect(ex.card.method.kind).toBe('hier:greedy/modelstock soup')
    // the members the greedy outer level kept (with the nominal weights the fuse table reports)
    expect(ex.card.method.ingredients).toHaveLength(
      (by.get('hier:greedy/modelstock') as unknown as { ingredients: unknown[] }).ingredients.length
    )
  })

  it("interpolate and plane print the documented JSON; the plane shows the run's soups with their distance", async () => {
    const lmc = (await cli('interpolate', '--a', 'mem_00', '--b', 'mem_12', '--steps', '3')) as {
      points: { lambda: number; loss: number; metrics: Record<string, number> }[]
      barrier: number
    }
    expect(lmc.points.map((p) => p.lambda)).toEqual([0, 0.5, 1])
    for (const p of lmc.points) expect(Object.keys(p.metrics).sort()).toEqual(['acc', 'auc', 'f1', 'kappa', 'recall'])
    expect(lmc.barrier).toBeGreaterThanOrEqual(0)
    const plane = (await cli('plane', '--models', 'mem_00,mem_02,mem_12', '--grid', '3')) as {
      models: { id: string; x: number; y: number; loss: number }[]
      grid: { x: number; y: number; loss: number; metrics: Record<string, number> }[]
      soups: { id: string; method: string; x: number; y: number; distance: number }[]
    }
    expect(plane.models.map((m) => m.id)).toEqual(['mem_00', 'mem_02', 'mem_12'])
    expect(plane.grid).toHaveLength(9)
    expect(plane.grid.every((g) => Number.isFinite(g.loss) && Number.isFinite(g.metrics.acc))).toBe(true)
    // the soups saved by the fuse above (uniform, the merges, ...), each placed with its distance
    expect(plane.soups.map((s) => s.method)).toEqual(expect.arrayContaining(['uniform', 'modelstock', 'ties']))
    for (const s of plane.soups) expect(s.distance).toBeGreaterThan(0)
    await expect(cli('plane', '--models', 'mem_00,mem_02')).rejects.toThrow(/exactly three model ids/)
    await expect(cli('interpolate', '--a', 'mem_00', '--b', 'nope')).rejects.toThrow(
      /b: no member or soup has the id nope/
    )
  })

  it('names an unknown level of a hierarchy', async () => {
    await expect(cli('fuse', '--run', 'run_fgg', '--methods', 'hier:greedy/foo')).rejects.toThrow(
      /params.methods.0: unknown fusion method.*hier:OUTER\/INNER/
    )
  })
})
