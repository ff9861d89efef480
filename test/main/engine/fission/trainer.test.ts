import * as tf from '@tensorflow/tfjs'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { DatasetReader } from '../../../../src/main/engine/data/reader'
import {
  hasCheckpoint,
  readCheckpoint,
  weightsOf,
  type NamedWeight
} from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { lrAt, type ScheduleSpec } from '../../../../src/main/engine/fission/schedules'
import { readerSource, type BatchSource } from '../../../../src/main/engine/fission/source'
import { itersPerEpoch, train, type TrainOptions } from '../../../../src/main/engine/fission/trainer'
import { tempDir, writeSyntheticCache } from './helpers'

let cache: string
let reader: DatasetReader
let trainSrc: BatchSource
let valSrc: BatchSource

const meta = (task: 'single' | 'multilabel' = 'single') => ({
  arch: 'smallcnn',
  archOptions: {},
  inputShape: [12, 12, 3] as [number, number, number],
  classes: ['c0', 'c1', 'c2'],
  task,
  output: 'logits' as const
})

function setup(over: Partial<TrainOptions> = {}): TrainOptions & { model: tf.LayersModel } {
  const model = getArch('smallcnn').build({ inputShape: [12, 12, 3], numClasses: 3, seed: 1 })
  return {
    model,
    meta: meta(),
    train: trainSrc,
    val: valSrc,
    epochs: 3,
    batchSize: 16,
    schedule: { kind: 'cosine', lr: 3e-3, tMax: 3 },
    seed: 0,
    dir: tempDir(),
    ...over
  }
}

const values = (ws: NamedWeight[]) => Object.fromEntries(ws.map((w) => [w.name, Array.from(w.data)]))

describe('trainer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    cache = writeSyntheticCache({ counts: { train: 50, val: 24, test: 24 } })
    reader = await DatasetReader.open(cache)
    trainSrc = readerSource(reader, 'train', { augment: 'minimal' })
    valSrc = readerSource(reader, 'val')
  })

  it('learns, records every metric per epoch on train and val, updates BN statistics, writes best/ and state/, leaks no tensor', async () => {
    const o = setup({ epochs: 5, batchSize: 8, schedule: { kind: 'cosine', lr: 1e-2, tMax: 5 } })
    const bnBefore = weightsOf(o.model).find((w) => w.name === 'conv1_bn/moving_mean')!.data
    const before = tf.memory().numTensors
    const epochs: number[] = []
    const r = await train({ ...o, onEpoch: (rec) => epochs.push(rec.epoch) })
    expect(tf.memory().numTensors).toBe(before)
    expect(r.status).toBe('done')
    expect(epochs).toEqual([1, 2, 3, 4, 5])
    for (const rec of r.history)
      for (const split of [rec.train, rec.val]) {
        for (const key of ['loss', 'acc', 'f1', 'recall', 'kappa', 'auc'] as const)
          expect(Number.isFinite(split[key])).toBe(true)
      }
    // BN running statistics need a few dozen updates before inference mode agrees with training mode
    expect(r.history[4].val.acc).toBeGreaterThan(0.9)
    expect(r.history[4].train.loss).toBeLessThan(r.history[0].train.loss)
    const bnAfter = weightsOf(o.model).find((w) => w.name === 'conv1_bn/moving_mean')!.data
    expect(bnAfter).not.toEqual(bnBefore)
    const best = await readCheckpoint(join(o.dir, 'best'))
    expect(best.meta.trainer!.epoch).toBe(r.bestEpoch)
    expect(best.meta.trainer!.bestValLoss).toBe(Math.min(...r.history.map((h) => h.val.loss)))
    const state = await readCheckpoint(join(o.dir, 'state'))
    expect(state.meta.trainer!.step).toBe(5 * itersPerEpoch(50, 8))
    expect(state.optimizer!.meta.step).toBe(5 * itersPerEpoch(50, 8))
    // where the time went: every part measured, together within the epochs' wall time (+ the last checkpoint)
    const t = r.timing!
    expect(t.images).toBe(5 * 50)
    for (const part of [t.train, t.augment, t.data, t.eval, t.checkpoint]) expect(part).toBeGreaterThan(0)
    expect(t.train + t.augment + t.data + t.eval).toBeLessThanOrEqual(r.seconds + 1e-6)
    o.model.dispose()
  })

  it('applies the cyclic schedule at every iteration, exactly as the formula', async () => {
    const schedule: ScheduleSpec = { kind: 'cyclic', a1: 1e-3, a2: 1e-6, cycle: 4 }
    const o = setup({ epochs: 2, schedule })
    const seen: [number, number, number][] = []
    await train({ ...o, onStep: (p) => seen.push([p.epoch, p.iteration, p.lr]) })
    const iters = itersPerEpoch(50, 16)
    expect(seen).toHaveLength(2 * iters)
    for (const [epoch, iteration, lr] of seen) expect(lr).toBe(lrAt(schedule, epoch, iteration - 1, iters))
    for (let k = 1; k < seen.length; k++) expect(seen[k][2]).not.toBe(seen[k - 1][2])
    o.model.dispose()
  })

  it('resumes after cancellation mid-epoch and ends with exactly the weights of an uninterrupted run', async () => {
    const a = setup({ epochs: 3 })
    await train(a)
    const straight = values(weightsOf(a.model))
    a.model.dispose()

    const b = setup({ epochs: 3 })
    const ctrl = new AbortController()
    const first = await train({
      ...b,
      signal: ctrl.signal,
      onStep: (p) => {
        if (p.epoch === 2 && p.iteration === 2) ctrl.abort()
      }
    })
    expect(first.status).toBe('cancelled')
    expect(first.epochsTrained).toBe(1)
    b.model.dispose()
    // a fresh process would rebuild the model from scratch: do the same
    const c = setup({ epochs: 3, dir: b.dir })
    const second = await train(c)
    expect(second.status).toBe('done')
    expect(second.history).toHaveLength(3)
    expect(values(weightsOf(c.model))).toEqual(straight)
    expect(values((await readCheckpoint(join(b.dir, 'state'))).weights)).toEqual(straight)
    // a finished training is not run again
    const again = await train({
      ...c,
      onStep: () => {
        throw new Error('should not train')
      }
    })
    expect(again.status).toBe('done')
    c.model.dispose()
  })

  it('linear probing trains the head only (BN statistics adapt) and stops early with patience', async () => {
    // validation labels are the training labels rotated, so fitting the training set makes validation worse
    const rotated: BatchSource = {
      count: valSrc.count,
      async *batches(p) {
        for await (const b of valSrc.batches(p)) yield { ...b, y: Int32Array.from(b.y, (v) => (v + 1) % 3) }
      }
    }
    const o = setup({
      epochs: 10,
      val: rotated,
      trainable: 'head',
      patience: 2,
      schedule: { kind: 'constant', lr: 3e-2 },
      optimizer: { weightDecay: 0 }
    })
    const w0 = values(weightsOf(o.model))
    const r = await train(o)
    expect(r.status).toBe('early-stopped')
    expect(r.reason).toMatch(/not improved for 2 epochs/)
    expect(r.epochsTrained).toBe(r.bestEpoch + 2)
    const w1 = values(weightsOf(o.model))
    for (const name of Object.keys(w0)) {
      if (name.startsWith('head/')) expect(w1[name]).not.toEqual(w0[name])
      else if (name.includes('moving_')) expect(w1[name]).not.toEqual(w0[name])
      else expect(w1[name]).toEqual(w0[name])
    }
    o.model.dispose()
  })

  it('stops a diverging member with a reason and writes no checkpoint for the broken epoch', async () => {
    const o = setup({ epochs: 3, schedule: { kind: 'constant', lr: 1e30 } })
    const before = tf.memory().numTensors
    const r = await train(o)
    expect(r.status).toBe('diverged')
    expect(r.reason).toMatch(/loss became (NaN|Infinity) at epoch 1, iteration \d+ .*last checkpoint is epoch 0/)
    expect(hasCheckpoint(join(o.dir, 'state'))).toBe(false)
    expect(hasCheckpoint(join(o.dir, 'best'))).toBe(false)
    expect(existsSync(join(o.dir, 'result.json'))).toBe(true)
    expect(tf.memory().numTensors).toBe(before)
    o.model.dispose()
  })

  it('trains multi-label data with masked BCE (NaN labels) and class weights', async () => {
    const ml = await DatasetReader.open(
      writeSyntheticCache({ multilabel: true, counts: { train: 40, val: 20, test: 20 } })
    )
    const o = setup({
      meta: meta('multilabel'),
      train: readerSource(ml, 'train'),
      val: readerSource(ml, 'val'),
      epochs: 2,
      classWeights: [1, 2, 1]
    })
    const r = await train(o)
    expect(r.status).toBe('done')
    expect(Number.isFinite(r.history[1].val.loss)).toBe(true)
    expect(r.history[1].val.auc).toBeGreaterThan(0.5)
    o.model.dispose()
    await ml.close()
  })
})
