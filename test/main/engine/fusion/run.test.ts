import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadModel } from '../../../../src/main/engine/models/checkpoint'
import { runFusion, type FuseMemberInput } from '../../../../src/main/engine/fusion/run'
import { averageCheckpoints } from '../../../../src/main/engine/fusion/average'
import { metricById, scoreAll } from '../../../../src/main/engine/evaluate'
import { SIZE, writeDataset, writeMembers } from './tiny'
import { corruptBatch } from '../../../../src/main/engine/evaluate/ood'
import { initBackend } from '../../../../src/main/engine/compute'

const root = mkdtempSync(join(tmpdir(), 'ff-fuse-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const classes = ['q0', 'q1', 'q2']
let members: FuseMemberInput[] = []

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 })
  writeDataset(join(root, 'ds'), classes, { train: 64, val: 40, test: 50 }, 1)
  // OOD: same classes renamed in case, plus a class the run lacks
  writeDataset(join(root, 'ood'), ['Q0', 'Q1', 'Q2', 'other'], { train: 4, val: 4, test: 30 }, 2)
  members = await writeMembers(root, classes)
})

describe('runFusion (tiny dataset, untrained members, wasm backend)', () => {
  it('fills the fuse table: val, test with CIs, OOD, corruptions, accounting; no tensors leak', async () => {
    const saved: string[] = []
    const before = tf.memory().numTensors
    const report = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['best', 'uniform', 'greedy', 'gou', 'gog', 'ensemble'],
      bootstrap: { resamples: 200, seed: 1 },
      ood: [{ id: 'ood', dir: join(root, 'ood') }],
      corruptions: true,
      saveSoup: async (r) => {
        saved.push(r.method)
        return `soup_${r.method}`
      }
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(report.methods.map((m) => m.method)).toEqual(['best', 'uniform', 'greedy', 'gou', 'gog', 'ensemble'])
    expect(saved).toEqual(['uniform', 'greedy', 'gou', 'gog'])
    const best = report.methods[0]
    const bestMember = Math.max(...report.members.map((m) => m.val))
    expect(best.val).toBe(bestMember)
    // the greedy soup is never worse on validation than the best member
    expect(report.methods[2].val).toBeGreaterThanOrEqual(bestMember)
    for (const m of report.methods) {
      expect(m.test.n).toBe(50)
      for (const ci of Object.values(m.test.metrics)) {
        if (Number.isNaN(ci.value)) continue
        expect(ci.ci[0]).toBeLessThanOrEqual(ci.value + 1e-12)
        expect(ci.ci[1]).toBeGreaterThanOrEqual(ci.value - 1e-12)
      }
      expect(m.ood.ood.unmappedSource).toEqual(['other'])
      expect(Object.keys(m.corruptions!)).toHaveLength(6)
      expect(m.corruptions!.blur).toHaveLength(3)
      expect(m.epochs).toBe(30)
      expect(m.seconds).toBeGreaterThanOrEqual(9)
      expect(m.ingredients.reduce((s, g) => s + g.weight, 0)).toBeCloseTo(1, 12)
      if (m.method !== 'best') expect(m.vsBest).toBeDefined()
    }
    expect(report.methods.find((m) => m.method === 'ensemble')!.accounting.inferencesPerImage).toBe(6)
    expect(report.methods.find((m) => m.method === 'gou')!.tree.children!.map((g) => g.id)).toEqual([
      'lr=0.001',
      'lr=0.0001'
    ])
  })

  it('soups averaged from members held in memory equal the streamed average of their checkpoints', async () => {
    const soups: { recipe: Record<string, number>; weights: Float32Array[] }[] = []
    await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['uniform', 'gou'],
      bootstrap: { resamples: 10 },
      saveSoup: async (r, ckpt) => {
        soups.push({ recipe: r.recipe, weights: ckpt.weights.map((w) => w.data) })
        return null
      }
    })
    expect(soups).toHaveLength(2)
    for (const soup of soups) {
      const ref = await averageCheckpoints(
        Object.entries(soup.recipe).map(([id, weight]) => ({ dir: members.find((m) => m.id === id)!.dir, weight }))
      )
      expect(soup.weights).toEqual(ref.weights.map((w) => w.data))
    }
  })

  it('runs the corruption suite on a seeded subset of the test images when capped, and on all of them otherwise', async () => {
    const run = (corruptionImages?: number) =>
      runFusion({
        members,
        datasetDir: join(root, 'ds'),
        metric: 'acc',
        methods: ['best'],
        bootstrap: { resamples: 10 },
        corruptions: true,
        corruptionImages
      })
    const all = await run()
    const same = await run(50)
    expect(same.methods[0].corruptions).toEqual(all.methods[0].corruptions)
    const capped = await run(20)
    expect(capped.notes).toContain('corruption suite on 20 of 50 test images (a seeded subset)')
    expect(capped.methods[0].test).toEqual(all.methods[0].test)
    for (const levels of Object.values(capped.methods[0].corruptions!)) {
      for (const m of levels) expect(Math.abs(m.acc * 20 - Math.round(m.acc * 20))).toBeLessThan(1e-9)
    }
  })

  it('makes the corruption suite once and predicts it in full batches: same scores as corrupting each batch per model; the ensemble can be left out, said so', async () => {
    const opts = {
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc' as const,
      methods: ['best', 'uniform', 'ensemble'] as const,
      bootstrap: { resamples: 10 },
      corruptions: true,
      corruptionImages: 20,
      batchSize: 16
    }
    const before = tf.memory().numTensors
    const t0 = performance.now()
    const held = await runFusion({ ...opts, methods: [...opts.methods], corruptionEnsemble: false })
    const wall = (performance.now() - t0) / 1000
    expect(tf.memory().numTensors).toBe(before)
    const streamed = await runFusion({ ...opts, methods: [...opts.methods], suiteBytes: 0 })
    expect(held.corruptionSuite).toEqual({ images: 20, of: 50, seed: 0, ensemble: false })
    expect(streamed.corruptionSuite).toEqual({ images: 20, of: 50, seed: 0, ensemble: true })
    for (const i of [0, 1]) {
      for (const [id, levels] of Object.entries(held.methods[i].corruptions!)) {
        levels.forEach((m, s) => {
          for (const [k, v] of Object.entries(m))
            expect(v).toBeCloseTo(streamed.methods[i].corruptions![id as 'blur'][s][k as 'acc'], 9)
        })
      }
      expect(held.methods[i].test).toEqual(streamed.methods[i].test)
    }
    expect(held.methods[2].corruptions).toBeUndefined()
    expect(Object.keys(streamed.methods[2].corruptions!)).toHaveLength(6)
    expect(held.notes).toContain(
      'ensemble: not run on the corruption suite (it would cost 6 members × 18 passes over 20 images); its corruption row is empty'
    )
    // the ensemble's clean test metrics do not depend on it
    expect(held.methods[2].test).toEqual(streamed.methods[2].test)
    // where the time went: the parts never exceed the run's wall time and account for most of it
    const parts = Object.values(held.seconds).reduce((a, b) => a + b, 0)
    // making 360 tiny corrupted images can round to 0.00 s; predicting them (2 models) cannot
    expect(held.seconds.suite).toBeGreaterThanOrEqual(0)
    expect(held.seconds.corruptions).toBeGreaterThan(0)
    expect(parts).toBeLessThanOrEqual(wall + 0.05)
    expect(parts).toBeGreaterThan(0.5 * wall)
  })

  it('scores the held corruption suite as an independent corruption and prediction of the best member', async () => {
    const report = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['best'],
      bootstrap: { resamples: 10 },
      corruptions: true,
      corruptionSeed: 3,
      batchSize: 16
    })
    const id = report.methods[0].ingredients[0].memberId
    const model = await loadModel(members.find((m) => m.id === id)!.dir)
    const x = new Uint8Array(readFileSync(join(root, 'ds', 'test.images.u8')))
    const y = new Int32Array(new Uint8Array(readFileSync(join(root, 'ds', 'test.labels.i32'))).buffer)
    for (const [c, severity] of [
      ['blur', 2],
      ['jpeg', 3],
      ['gaussian-noise', 1]
    ] as const) {
      const xc = corruptBatch(x, [SIZE, SIZE, 1], c, severity, 3, 0)
      const probs = tf.tidy(() => {
        const t = tf
          .tensor4d(
            Float32Array.from(xc, (v) => (v / 255 - 0.5) / 0.25),
            [50, SIZE, SIZE, 1]
          )
          .tile([1, 1, 1, 3])
        return Float32Array.from(tf.softmax(model.predict(t) as tf.Tensor).dataSync())
      })
      const expected = scoreAll({ task: 'single', k: 3, yTrue: y, probs })
      expect(report.methods[0].corruptions![c][severity - 1].acc).toBe(expected.acc)
      expect(report.methods[0].corruptions![c][severity - 1].auc).toBeCloseTo(expected.auc, 6)
    }
    model.dispose()
  })

  it("the best individual's test metrics equal an independent evaluation of that member", async () => {
    const report = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['best'],
      bootstrap: { resamples: 10 }
    })
    const id = report.methods[0].ingredients[0].memberId
    const model = await loadModel(members.find((m) => m.id === id)!.dir)
    const x = new Uint8Array(readFileSync(join(root, 'ds', 'test.images.u8')))
    const y = new Int32Array(new Uint8Array(readFileSync(join(root, 'ds', 'test.labels.i32'))).buffer)
    const probs = tf.tidy(() => {
      const t = tf
        .tensor4d(
          Float32Array.from(x, (v) => (v / 255 - 0.5) / 0.25),
          [50, SIZE, SIZE, 1]
        )
        .tile([1, 1, 1, 3])
      return Float32Array.from(tf.softmax(model.predict(t) as tf.Tensor).dataSync())
    })
    model.dispose()
    const expected = scoreAll({ task: 'single', k: 3, yTrue: y, probs })
    for (const [k, v] of Object.entries(expected))
      expect(report.methods[0].test.metrics[k as keyof typeof expected].value).toBeCloseTo(v, 6)
    expect(metricById('acc').compute({ task: 'single', k: 3, yTrue: y, probs })).toBe(expected.acc)
  })

  it('re-estimates BatchNorm statistics of a soup on training batches when asked (weights untouched)', async () => {
    const { averageCheckpoints } = await import('../../../../src/main/engine/fusion/average')
    const plain = await averageCheckpoints(members.map((m) => ({ dir: m.dir, weight: 1 })))
    let saved: typeof plain | null = null
    const before = tf.memory().numTensors
    const report = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['uniform'],
      bnBatches: 1,
      bootstrap: { resamples: 10 },
      saveSoup: async (_r, ckpt) => {
        saved = ckpt
        return 'soup_bn'
      }
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(report.notes.some((n) => /re-estimated on 64 training images/.test(n))).toBe(true)
    const got = saved as unknown as typeof plain
    const maxDiff = (a: Float32Array, b: Float32Array): number =>
      a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j])), 0)
    // weights 1/6 (the recipe) and 1 (here) normalise to 1/6 up to the last bit
    got.weights.forEach((w, i) => {
      if (w.kind === 'trainable') expect(maxDiff(w.data, plain.weights[i].data)).toBeLessThan(1e-6)
    })
    const mean = got.weights.find((w) => w.name === 'conv1_bn/moving_mean')!
    expect(maxDiff(mean.data, plain.weights.find((w) => w.name === 'conv1_bn/moving_mean')!.data)).toBeGreaterThan(1e-3)
  })

  it('skips methods an earlier attempt finished and reports the mismatch of classes clearly', async () => {
    const first = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'auc',
      methods: ['uniform'],
      bootstrap: { resamples: 10 }
    })
    const again = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'auc',
      methods: ['uniform'],
      done: first.methods,
      bootstrap: { resamples: 10 }
    })
    expect(again.methods[0]).toBe(first.methods[0])
    await expect(
      runFusion({ members, datasetDir: join(root, 'ood'), metric: 'acc', methods: ['best'] })
    ).rejects.toThrow(/3 outputs but the dataset has 4 classes/)
  })
})
