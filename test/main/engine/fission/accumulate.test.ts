import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { AdamW, type NamedVariable } from '../../../../src/main/engine/fission/adamw'
import {
  accumulatedGradients,
  microShares,
  trainStep,
  type StepContext
} from '../../../../src/main/engine/fission/trainer'
import { splitBatch } from '../../../../src/main/engine/models/memory'
import { Rng } from '../../../../src/main/engine/data/rng'

// A 2-convolution network without BatchNorm: micro-batches must then give the full batch's gradients exactly (up to float rounding).
function twoConv(outputs: number): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3] })
  let h = tf.layers
    .conv2d({
      filters: 6,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 2 })
    })
    .apply(input) as tf.SymbolicTensor
  h = tf.layers
    .conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: 'valid',
      activation: 'relu',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: 4 })
    })
    .apply(h) as tf.SymbolicTensor
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor
  const out = tf.layers
    .dense({ units: outputs, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }), name: 'head' })
    .apply(h) as tf.SymbolicTensor
  return tf.model({ inputs: input, outputs: out })
}

const paramsOf = (m: tf.LayersModel): NamedVariable[] =>
  m.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))

function batch(
  n: number,
  task: 'single' | 'multilabel',
  seed: number
): { x: tf.Tensor4D; y: Int32Array | Float32Array; n: number } {
  const r = new Rng(seed)
  const rnd = () => r.next()
  const x = tf.tensor4d(
    Float32Array.from({ length: n * 12 * 12 * 3 }, () => rnd() * 2 - 1),
    [n, 12, 12, 3]
  )
  if (task === 'single') return { x, y: Int32Array.from({ length: n }, () => Math.floor(rnd() * 3)), n }
  // multi-label: 1 / 0, blanks (NaN) and uncertain (−1) so that micro-batches observe different label counts
  const values = [1, 0, NaN, -1, 1, 0]
  return { x, y: Float32Array.from({ length: n * 3 }, () => values[Math.floor(rnd() * values.length)]), n }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('micro-batches with accumulated gradients', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('splits a batch into balanced micro-batches', () => {
    expect(splitBatch(12, 5)).toEqual([4, 4, 4])
    expect(splitBatch(128, 5)).toEqual([...Array<number>(24).fill(5), 4, 4])
    expect(splitBatch(7, 7)).toEqual([7])
    expect(splitBatch(7, 100)).toEqual([7])
    // shares: by image (unweighted), by class weight, by observed label
    expect(microShares('single', Int32Array.from([0, 1, 2, 0, 1]), 5, [2, 3])).toEqual([0.4, 0.6])
    expect(microShares('single', Int32Array.from([0, 1, 2, 0, 1]), 5, [2, 3], [1, 2, 5])).toEqual([3 / 11, 8 / 11])
    expect(microShares('multilabel', Float32Array.from([1, NaN, -1, 0]), 2, [1, 1])).toEqual([1 / 2, 1 / 2])
    expect(microShares('multilabel', Float32Array.from([1, NaN, -1, 0]), 2, [1, 1], undefined, 'ones')).toEqual([
      1 / 3,
      2 / 3
    ])
  })

  for (const [task, classWeights] of [
    ['single', undefined],
    ['single', [0.5, 1, 3]],
    ['multilabel', [1, 2, 0.5]]
  ] as const) {
    it(`${task}${classWeights ? ' with class weights' : ''}: batch 12 as 5+5+2 gives the full batch's gradients, loss and AdamW update to 1e-5`, () => {
      const before = tf.memory().numTensors
      const full = twoConv(3)
      const micro = twoConv(3)
      micro.setWeights(full.getWeights())
      const b = batch(12, task, 7)
      const ctx = (model: tf.LayersModel, microBatch?: number[]): StepContext => ({
        model,
        params: paramsOf(model),
        opt: new AdamW({ weightDecay: 1e-2 }),
        task,
        classWeights: classWeights ? [...classWeights] : undefined,
        microBatch
      })
      const cf = ctx(full)
      const cm = ctx(micro, [5, 5, 2])
      const gf = accumulatedGradients(cf, b)
      const gm = accumulatedGradients(cm, b)
      expect(gm.grads.length).toBe(gf.grads.length)
      expect(Math.abs(gm.loss - gf.loss)).toBeLessThan(1e-5)
      expect(maxDiff(gm.probs, gf.probs)).toBeLessThan(1e-5)
      let largest = 0
      gf.grads.forEach((g, k) => {
        const a = g.dataSync() as Float32Array
        largest = Math.max(
          largest,
          a.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
        )
        expect(maxDiff(gm.grads[k].dataSync() as Float32Array, a)).toBeLessThan(1e-5)
      })
      // the gradients are not trivially zero: the comparison means something
      expect(largest).toBeGreaterThan(1e-3)
      tf.dispose([...gf.grads, ...gm.grads])

      // three AdamW updates of each model on three batches, the micro one split 5+5+2 every time
      for (let s = 0; s < 3; s++) {
        const bs = s === 0 ? b : batch(12, task, 100 + s)
        const rf = trainStep(cf, bs, 1e-3)
        const rm = trainStep(cm, bs, 1e-3)
        expect(Math.abs(rm.loss - rf.loss)).toBeLessThan(1e-5)
        if (bs !== b) bs.x.dispose()
      }
      const wf = full.getWeights()
      const wm = micro.getWeights()
      let moved = 0
      wf.forEach((w, k) =>
        expect(maxDiff(wm[k].dataSync() as Float32Array, w.dataSync() as Float32Array)).toBeLessThan(1e-5)
      )
      const start = twoConv(3).getWeights()
      wf.forEach((w, k) => {
        moved = Math.max(moved, maxDiff(w.dataSync() as Float32Array, start[k].dataSync() as Float32Array))
      })
      expect(moved).toBeGreaterThan(1e-3)
      const mf = cf.opt.snapshot()
      const mm = cm.opt.snapshot()
      // the two models' layers have different generated names: compare the moments parameter by parameter
      cf.params.forEach((p, k) => {
        const a = mf.moments.get(p.name)!
        const b2 = mm.moments.get(cm.params[k].name)!
        expect(maxDiff(b2.m, a.m)).toBeLessThan(1e-5)
        expect(maxDiff(b2.v, a.v)).toBeLessThan(1e-5)
      })
      tf.dispose(start)
      b.x.dispose()
      cf.opt.dispose()
      cm.opt.dispose()
      full.dispose()
      micro.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })
  }

  it('a step over micro-batches leaves no tensor behind and applies no update on a non-finite loss', () => {
    const model = twoConv(3)
    const ctx: StepContext = { model, params: paramsOf(model), opt: new AdamW(), task: 'single', microBatch: 4 }
    const b = batch(10, 'single', 3)
    const before = tf.memory().numTensors
    const r = trainStep(ctx, b, 1e-3)
    expect(Number.isFinite(r.loss)).toBe(true)
    expect(r.probs.length).toBe(30)
    expect(tf.memory().numTensors).toBe(before + 2 * ctx.params.length) // AdamW's m and v, created on the first update
    const bad = { x: tf.fill([10, 12, 12, 3], NaN) as tf.Tensor4D, y: b.y, n: 10 }
    const w0 = model.getWeights().map((w) => Array.from(w.dataSync()))
    const nan = trainStep(ctx, bad, 1e-3)
    expect(Number.isNaN(nan.loss)).toBe(true)
    model.getWeights().forEach((w, k) => expect(Array.from(w.dataSync())).toEqual(w0[k]))
    expect(ctx.opt.step).toBe(1)
    tf.dispose([b.x, bad.x])
    ctx.opt.dispose()
    model.dispose()
  })
})
