// End to end through the CLI: `fissionfusion fuse` (a job in an engine process) and
// `fissionfusion evaluate`, on a workspace holding a tiny dataset and six members.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { cliJson } from '../../fixtures/process'
import { writeDataset, writeMembers } from '../engine/fusion/tiny'

const ws = mkdtempSync(join(tmpdir(), 'ff-fuse-cli-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))

/** The best member's test metrics from the first fuse (1 thread, whole suite). */
let first: Record<string, { value: number; ci: [number, number] }> | null = null

const cli = (...args: string[]): Promise<unknown> => cliJson(ws, 'wasm', args, { FF_THREADS: '1' })

beforeAll(async () => {
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
    store.runs.create({
      id: 'run_tiny',
      name: 'tiny fgg',
      datasetId: 'ds_tiny',
      kind: 'fgg',
      config: { metric: 'acc' }
    })
    const members = await writeMembers(join(ws, 'staging'), classes)
    for (const m of members) {
      const rec = store.runs.createMember({
        id: `mem_${m.id}`,
        runId: 'run_tiny',
        name: m.id,
        hyperparams: { lr: m.hparams.lr as number, seed: m.hparams.seed as number }
      })
      const dir = workspace.memberDir('run_tiny', rec.id)
      const { cpSync } = await import('node:fs')
      cpSync(m.dir, dir, { recursive: true })
      store.runs.updateMember(rec.id, {
        checkpointPath: workspace.toRelative(dir),
        status: 'done',
        epochs: 4,
        wallSeconds: 2
      })
    }
  } finally {
    store.close()
  }
})

describe('fuse and evaluate commands', () => {
  it('fuse --json prints the table as JSON, records soups and their evaluations; evaluate scores a soup and writes its CSV', async () => {
    const r = (await cli(
      'fuse',
      '--run',
      'run_tiny',
      '--methods',
      'best,uniform,greedy,gou,gog',
      '--resamples',
      '200',
      '--corruptions'
    )) as {
      methods: {
        method: string
        modelId: string | null
        val: number
        test: Record<string, { value: number; ci: [number, number] }>
        epochs: number
        seconds: number
        ingredients: unknown[]
        tree: { children: unknown[] }
        corruptions: unknown
      }[]
    }
    expect(r.methods.map((m) => m.method)).toEqual(['best', 'uniform', 'greedy', 'gou', 'gog'])
    for (const m of r.methods) {
      expect(Object.keys(m.test).sort()).toEqual(['acc', 'auc', 'f1', 'kappa', 'recall'])
      expect(m.test.acc.ci[0]).toBeLessThanOrEqual(m.test.acc.value)
      expect(m.epochs).toBe(24)
      expect(m.ingredients.length).toBeGreaterThan(0)
      expect(m.corruptions).toBeTruthy()
    }
    expect(r.methods[2].val).toBeGreaterThanOrEqual(r.methods[0].val)
    // the best individual's model id is its member's
    expect(r.methods[0].modelId).toMatch(/^mem_m\d\d$/)
    const soupId = r.methods[1].modelId!
    expect(soupId).toMatch(/^soup_/)

    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const soup = store.soups.get(soupId)!
      expect(soup.method).toBe('uniform')
      expect(existsSync(join(ws, soup.checkpointPath!, 'model.json'))).toBe(true)
      expect(store.soups.ingredients(soupId)).toHaveLength(6)
      const evals = store.evaluations.list({ soupId })
      expect(evals.find((e) => e.metric === 'acc')!.value).toBeCloseTo(r.methods[1].test.acc.value, 12)
    } finally {
      store.close()
    }

    const csv = join(ws, 'preds.csv')
    const e = (await cli(
      'evaluate',
      '--model',
      soupId,
      '--dataset',
      'ds_tiny',
      '--predictions',
      csv,
      '--resamples',
      '200'
    )) as { modelId: string; n: number; metrics: Record<string, { value: number }> }
    expect(e.n).toBe(50)
    // the same model on the same split: the fuse table's test accuracy
    expect(e.metrics.acc.value).toBeCloseTo(r.methods[1].test.acc.value, 12)
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n')
    expect(lines[0]).toBe('index,label,p0,p1,p2')
    expect(lines).toHaveLength(51)
    // the per-image predictions the fuse job stored from its own test pass (not predicted again) are evaluate's
    const stored = readFileSync(join(ws, 'runs', 'run_tiny', 'predictions', `${soupId}.test.csv`), 'utf8')
      .trimEnd()
      .split('\n')
    expect(stored.length).toBe(lines.length)
    stored.forEach((line, i) => {
      const [a, b] = [line.split(','), lines[i].split(',')]
      expect(a.slice(0, 2)).toEqual(b.slice(0, 2))
      if (i > 0) a.slice(2).forEach((v, j) => expect(Number(v)).toBeCloseTo(Number(b[2 + j]), 6))
    })
    // where the time went
    const secs = (r as unknown as { seconds: Record<string, number> }).seconds
    expect(Object.keys(secs).sort()).toEqual([
      'bn',
      'bootstrap',
      'corruptions',
      'load',
      'ood',
      'predictions',
      'suite',
      'test',
      'total',
      'val'
    ])
    expect(secs.corruptions).toBeGreaterThan(0)
    expect(
      secs.load + secs.val + secs.test + secs.suite + secs.corruptions + secs.bootstrap + secs.predictions
    ).toBeLessThanOrEqual(secs.total)
    first = r.methods[0].test
  })

  it("fuse --threads 2 --corruption-images 20 --corruption-ensemble no: the same best member's metrics, the suite's extent and the threads reported, parts summing to about the total", async () => {
    expect(first).not.toBeNull()
    const r = (await cli(
      'fuse',
      '--run',
      'run_tiny',
      '--methods',
      'best,ensemble',
      '--resamples',
      '200',
      '--corruptions',
      '--corruption-images',
      '20',
      '--corruption-ensemble',
      'no',
      '--threads',
      '2'
    )) as {
      methods: { method: string; test: Record<string, { value: number; ci: [number, number] }>; corruptions: unknown }[]
      corruptionSuite: unknown
      threads: number
      notes: string[]
      seconds: Record<string, number>
    }
    expect(r.threads).toBe(2)
    expect(r.corruptionSuite).toEqual({ images: 20, of: 50, seed: 0, ensemble: false })
    expect(r.notes).toContain('corruption suite on 20 of 50 test images (a seeded subset)')
    expect(r.methods[0].corruptions).toBeTruthy()
    expect(r.methods[1].corruptions).toBeNull()
    for (const [k, v] of Object.entries(first!)) {
      expect(r.methods[0].test[k].value).toBeCloseTo(v.value, 9)
      expect(r.methods[0].test[k].ci[0]).toBeCloseTo(v.ci[0], 9)
    }
    const { total, ...parts } = r.seconds
    const sum = Object.values(parts).reduce((a, b) => a + b, 0)
    expect(sum).toBeLessThanOrEqual(total + 0.05)
    expect(sum).toBeGreaterThan(0.5 * total)
  })

  it('names a missing run or model clearly', async () => {
    const failure = async (...args: string[]): Promise<string> => {
      try {
        await cli(...args)
      } catch (e) {
        const { stdout, stderr } = e as { stdout: string; stderr: string }
        return stdout + stderr
      }
      throw new Error(`${args.join(' ')} did not fail`)
    }
    expect(await failure('fuse', '--run', 'run_nope')).toMatch(/run run_nope not found/)
    expect(await failure('evaluate', '--model', 'soup_nope', '--dataset', 'ds_tiny')).toMatch(
      /model soup_nope: no member or soup/
    )
  })
})
