// End to end through the CLI: `fissionfusion export` runs the 'export' job in an engine process
// on a workspace holding two members, a hierarchical soup over them and its evaluations.
import * as tf from '@tensorflow/tfjs'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, promises as fsp, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cardFromMetadata, decodeModel, type ModelCard } from '../../../src/main/engine/export/index'
import { sha256Hex } from '../../../src/main/engine/export/files'
import { averageCheckpoints } from '../../../src/main/engine/fusion/average'
import { ARCHITECTURES } from '../../../src/main/engine/models/index'
import { weightsOf, writeCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { randomizeWeights, runOnnx, uniform } from '../engine/export/helpers'

const exec = promisify(execFile)
const repo = fileURLToPath(new URL('../../../', import.meta.url))
const ws = mkdtempSync(join(tmpdir(), 'ff-export-cli-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [join(repo, 'bin/fissionfusion.mjs'), '--workspace', ws, ...args],
      { cwd: repo, maxBuffer: 64 << 20 }
    )
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

const CLASSES = ['normal', 'pneumonia']

beforeAll(async () => {
  await tf.setBackend('cpu')
  const workspace = Workspace.open(ws)
  const store = Store.open(workspace.dbPath)
  try {
    store.datasets.create({
      id: 'ds_pn',
      name: 'PneumoniaMNIST',
      format: 'npz',
      task: 'single',
      status: 'ready',
      classes: CLASSES,
      counts: { train: 10, val: 10, test: 10 },
      dir: 'datasets/ds_pn'
    })
    store.datasets.create({
      id: 'ds_ood',
      name: 'ChestX-ray shifted',
      format: 'folder',
      task: 'single',
      status: 'ready',
      classes: CLASSES,
      counts: { train: 0, val: 0, test: 10 },
      dir: 'datasets/ds_ood'
    })
    store.runs.create({ id: 'run_1', name: 'grid', datasetId: 'ds_pn', kind: 'grid', config: { metric: 'acc' } })
    const dirs: string[] = []
    for (const [i, lr] of [
      [1, 1e-4],
      [2, 1e-5]
    ] as const) {
      const model = ARCHITECTURES.smallcnn.build({ inputShape: [28, 28, 1], numClasses: 2, seed: i })
      randomizeWeights(model, 10 * i)
      const rec = store.runs.createMember({
        id: `mem_${i}`,
        runId: 'run_1',
        name: `member ${i}`,
        groupKey: String(lr),
        hyperparams: { lr, seed: i, aug: 'heavy' }
      })
      const dir = workspace.memberDir('run_1', rec.id)
      await writeCheckpoint(dir, {
        meta: {
          arch: 'smallcnn',
          archOptions: {},
          inputShape: [28, 28, 1],
          classes: CLASSES,
          task: 'single',
          output: 'logits'
        },
        weights: weightsOf(model)
      })
      model.dispose()
      store.runs.updateMember(rec.id, {
        checkpointPath: workspace.toRelative(dir),
        status: 'done',
        epochs: 3,
        wallSeconds: 1
      })
      dirs.push(dir)
    }
    const avg = await averageCheckpoints(dirs.map((dir) => ({ dir, weight: 1 })))
    const soupDir = workspace.soupDir('run_1', 'soup_u')
    await writeCheckpoint(soupDir, { meta: avg.meta, weights: avg.weights })
    // A hierarchical soup whose only kept ingredient is a local soup over both members.
    store.soups.create(
      {
        id: 'soup_u',
        runId: 'run_1',
        name: 'uniform (acc)',
        method: 'uniform',
        selectionMetric: 'acc',
        valScore: 0.7,
        checkpointPath: workspace.toRelative(soupDir),
        status: 'done'
      },
      [
        { memberId: 'mem_1', childSoupId: null, weight: 0.5, kept: true, stepScore: null },
        { memberId: 'mem_2', childSoupId: null, weight: 0.5, kept: true, stepScore: null }
      ]
    )
    store.soups.create(
      {
        id: 'soup_g',
        runId: 'run_1',
        name: 'GoU (acc)',
        method: 'gou',
        groupBy: 'lr',
        selectionMetric: 'acc',
        valScore: 0.72,
        checkpointPath: workspace.toRelative(soupDir),
        status: 'done'
      },
      [{ memberId: null, childSoupId: 'soup_u', weight: 1, kept: true, stepScore: 0.72 }]
    )
    store.evaluations.record([
      {
        soupId: 'soup_g',
        datasetId: 'ds_pn',
        split: 'test',
        metric: 'acc',
        value: 0.81,
        ciLo: 0.78,
        ciHi: 0.84,
        n: 624
      },
      { soupId: 'soup_g', datasetId: 'ds_ood', split: 'test', metric: 'acc', value: 0.6, ciLo: 0.5, ciHi: 0.7, n: 100 }
    ])
  } finally {
    store.close()
  }
})

describe('fissionfusion export', () => {
  it('--json prints {file, sha256, card}; the ONNX file runs and carries the card; the export is recorded', async () => {
    const out = join(ws, 'exports', 'gou.onnx')
    const r = await cli('export', '--model', 'soup_g', '--format', 'onnx', '--out', out, '--card', '--json')
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { file: string; sha256: string; card: ModelCard }
    expect(Object.keys(res).sort()).toEqual(['card', 'file', 'sha256'])
    expect(res.file).toBe(out)
    const bytes = await fsp.readFile(out)
    expect(res.sha256).toBe(sha256Hex(bytes))
    expect(existsSync(join(ws, 'exports', 'gou.md'))).toBe(true)
    const card = cardFromMetadata(decodeModel(bytes).metadata)
    expect(card).toEqual(res.card)
    expect(card.dataset).toEqual({ name: 'PneumoniaMNIST', task: 'single', classes: CLASSES })
    expect(card.method.kind).toBe('gou soup')
    expect(card.method.ingredients).toEqual([
      { id: 'mem_1', hyperparameters: { lr: 1e-4, seed: 1, aug: 'heavy' } },
      { id: 'mem_2', hyperparameters: { lr: 1e-5, seed: 2, aug: 'heavy' } }
    ])
    expect(card.metrics).toEqual([
      { split: 'val', metric: 'acc', value: 0.72 },
      { split: 'test', metric: 'acc', value: 0.81, ci95: [0.78, 0.84], n: 624 },
      { split: 'ood:ChestX-ray shifted', metric: 'acc', value: 0.6, ci95: [0.5, 0.7], n: 100 }
    ])
    expect(card.preprocessing).toEqual({
      size: [28, 28],
      channels: 1,
      layout: 'NHWC',
      scale: 1 / 255,
      mean: [0.5],
      std: [0.25]
    })
    const probs = await runOnnx(bytes, uniform(3 * 28 * 28, 1, -2, 2), [3, 28, 28, 1])
    for (let i = 0; i < 3; i++) expect(probs.data[2 * i] + probs.data[2 * i + 1]).toBeCloseTo(1, 5)
    expect(bytes.includes(Buffer.from(ws))).toBe(false)

    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const [rec] = store.evaluations.listExports()
      expect(rec).toMatchObject({
        soupId: 'soup_g',
        memberId: null,
        format: 'onnx',
        path: 'exports/gou.onnx',
        bytes: bytes.length,
        sha256: res.sha256
      })
    } finally {
      store.close()
    }
  })

  it('exports a member as TF.js into the workspace by default', async () => {
    const r = await cli('export', '--model', 'mem_2', '--format', 'tfjs', '--json')
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { file: string; card: ModelCard }
    expect(res.file).toBe(join(ws, 'exports', 'mem_2.json'))
    expect(existsSync(join(ws, 'exports', 'mem_2.weights.bin'))).toBe(true)
    expect(res.card.method).toMatchObject({
      kind: 'member',
      ingredients: [{ id: 'mem_2', hyperparameters: { lr: 1e-5, seed: 2, aug: 'heavy' } }]
    })
  })

  it('fails with a clear message for an unknown model or format', async () => {
    const bad = await cli('export', '--model', 'nope')
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('no member or soup with id nope')
    const fmt = await cli('export', '--model', 'soup_g', '--format', 'pt')
    expect(fmt.code).not.toBe(0)
    expect(fmt.stderr).toContain("--format must be onnx or tfjs, got 'pt'")
  })
})
