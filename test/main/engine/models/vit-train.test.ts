import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { DatasetReader } from '../../../../src/main/engine/data/reader'
import { readerSource, type BatchSource } from '../../../../src/main/engine/fission/source'
import { train, type TrainOptions } from '../../../../src/main/engine/fission/trainer'
import { hasCheckpoint, loadModel, weightsOf } from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { tempDir, writeSyntheticCache } from '../fission/helpers'

const VIT = { patch: 4, hidden: 16, layers: 2, heads: 2, mlp: 32 }
let trainSrc: BatchSource
let valSrc: BatchSource

function setup(over: Partial<TrainOptions> = {}): TrainOptions & { model: tf.LayersModel } {
  const model = getArch('vit').build({ inputShape: [12, 12, 3], numClasses: 3, seed: 1, vit: VIT })
  return {
    model,
    meta: {
      arch: 'vit',
      archOptions: { vit: VIT },
      inputShape: [12, 12, 3],
      classes: ['c0', 'c1', 'c2'],
      task: 'single',
      output: 'logits'
    },
    train: trainSrc,
    val: valSrc,
    epochs: 4,
    batchSize: 8,
    schedule: { kind: 'cosine', lr: 3e-3, tMax: 4 },
    seed: 0,
    dir: tempDir(),
    ...over
  }
}

describe("training a ViT with the engine's trainer (AdamW, wasm)", () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    expect(tf.getBackend()).toBe('wasm')
    const reader = await DatasetReader.open(writeSyntheticCache({ counts: { train: 48, val: 24, test: 24 } }))
    trainSrc = readerSource(reader, 'train', { augment: 'minimal' })
    valSrc = readerSource(reader, 'val')
  })

  it('fine-tunes: the training loss falls, checkpoints reload into the same network, no tensor leaks', async () => {
    const o = setup()
    const before = tf.memory().numTensors
    const r = await train(o)
    expect(tf.memory().numTensors).toBe(before)
    expect(r.status).toBe('done')
    expect(r.history).toHaveLength(4)
    expect(r.history[3].train.loss).toBeLessThan(r.history[0].train.loss)
    expect(hasCheckpoint(`${o.dir}/best`)).toBe(true)
    const back = await loadModel(`${o.dir}/state`)
    const x = tf.randomUniform([2, 12, 12, 3], -1, 1, 'float32', 3)
    const [a, b] = tf.tidy(() => [
      (o.model.predict(x) as tf.Tensor).dataSync(),
      (back.predict(x) as tf.Tensor).dataSync()
    ])
    expect(Array.from(b)).toEqual(Array.from(a))
    x.dispose()
    back.dispose()
    o.model.dispose()
  })

  it('linear probing (trainable: head) changes the head only', async () => {
    const o = setup({ epochs: 1, trainable: 'head' })
    const w0 = weightsOf(o.model)
    await train(o)
    const w1 = weightsOf(o.model)
    const changed = w1.filter((w, i) => w.data.some((v, j) => v !== w0[i].data[j])).map((w) => w.name)
    expect(changed).toEqual(['head/kernel', 'head/bias'])
    o.model.dispose()
  })

  it('has the published parameter counts at 224 px with 1000 classes (DeiT-S 22,050,664; DeiT-Ti 5,717,416)', () => {
    for (const [arch, count] of [
      ['deit_s16', 22050664],
      ['vit', 5717416]
    ] as const) {
      const m = getArch(arch).build({ inputShape: [224, 224, 3], numClasses: 1000, seed: 0 })
      expect(m.trainableWeights.reduce((s, w) => s + w.shape.reduce((p: number, d) => p * (d as number), 1), 0)).toBe(
        count
      )
      m.dispose()
    }
    expect(() =>
      getArch('deit_s16').build({ inputShape: [224, 224, 3], numClasses: 2, seed: 0, vit: { hidden: 192 } })
    ).toThrow(/fixed dimensions; use "vit" to change hidden/)
    expect(() =>
      getArch('vit').build({ inputShape: [224, 224, 3], numClasses: 2, seed: 0, vit: { hidden: 100, heads: 3 } })
    ).toThrow(/hidden width 100 is not a multiple of its 3 heads/)
    expect(() => getArch('vit').build({ inputShape: [8, 8, 3], numClasses: 2, seed: 0 })).toThrow(
      /smaller than one 16 px patch/
    )
  })
})
