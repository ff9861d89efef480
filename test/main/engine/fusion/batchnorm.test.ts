import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { reestimateBatchNorm } from '../../../../src/main/engine/fusion/batchnorm'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** conv1 (1×1, no bias) → bn1 → relu → conv2 (1×1, no bias) → bn2, with seeded weights. */
function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [3, 3, 2] })
  let x = tf.layers
    .conv2d({
      name: 'c1',
      filters: 3,
      kernelSize: 1,
      useBias: false,
      kernelInitializer: tf.initializers.randomNormal({ seed: 1 })
    })
    .apply(input) as tf.SymbolicTensor
  x = tf.layers
    .batchNormalization({
      name: 'bn1',
      epsilon: 1e-3,
      gammaInitializer: tf.initializers.constant({ value: 1.5 }),
      betaInitializer: tf.initializers.constant({ value: 0.2 })
    })
    .apply(x) as tf.SymbolicTensor
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor
  x = tf.layers
    .conv2d({
      name: 'c2',
      filters: 2,
      kernelSize: 1,
      useBias: false,
      kernelInitializer: tf.initializers.randomNormal({ seed: 2 })
    })
    .apply(x) as tf.SymbolicTensor
  x = tf.layers.batchNormalization({ name: 'bn2', epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor
  return tf.model({ inputs: input, outputs: x })
}

const batchesData = [0, 1, 2].map((b) =>
  tf.tidy(() => tf.randomNormal([4 + b, 3, 3, 2], b, 1 + b, 'float32', 10 + b).arraySync() as number[][][][])
)

function stat(model: tf.LayersModel, layer: string, which: 'moving_mean' | 'moving_variance'): number[] {
  const v = model.getLayer(layer).weights.find((w) => w.originalName.endsWith(which))!
  return Array.from(v.read().dataSync())
}

describe('BatchNorm re-estimation', () => {
  it('sets running stats to the mean / variance of each BN input over all batches, upstream BNs in training mode', async () => {
    const model = tinyModel()
    const k1 = model.getLayer('c1').getWeights()[0]
    const k2 = model.getLayer('c2').getWeights()[0]
    // Independent reference with plain ops: per batch, bn1 uses its own batch statistics.
    const expected = tf.tidy(() => {
      const x1s: tf.Tensor[] = []
      const x2s: tf.Tensor[] = []
      for (const d of batchesData) {
        const x = tf.tensor4d(d)
        const x1 = tf.conv2d(x, k1 as tf.Tensor4D, 1, 'same')
        const m = tf.moments(x1, [0, 1, 2])
        const h = tf.relu(x1.sub(m.mean).div(m.variance.add(1e-3).sqrt()).mul(1.5).add(0.2))
        x1s.push(x1.reshape([-1, 3]))
        x2s.push(tf.conv2d(h as tf.Tensor4D, k2 as tf.Tensor4D, 1, 'same').reshape([-1, 2]))
      }
      const all1 = tf.moments(tf.concat(x1s), 0)
      const all2 = tf.moments(tf.concat(x2s), 0)
      return [all1.mean, all1.variance, all2.mean, all2.variance].map((t) => Array.from(t.dataSync()))
    })
    const before = tf.memory().numTensors
    const report = await reestimateBatchNorm(
      model,
      batchesData.map((d) => tf.tensor4d(d))
    )
    expect(tf.memory().numTensors).toBe(before)
    expect(report).toEqual({ layers: 2, images: 4 + 5 + 6 })
    const got = [
      stat(model, 'bn1', 'moving_mean'),
      stat(model, 'bn1', 'moving_variance'),
      stat(model, 'bn2', 'moving_mean'),
      stat(model, 'bn2', 'moving_variance')
    ]
    got.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 4)))
    // and not the initial values (0 / 1)
    expect(got[0].some((v) => Math.abs(v) > 0.05)).toBe(true)
    model.dispose()
  })

  it('refuses an empty batch source', async () => {
    const model = tinyModel()
    await expect(reestimateBatchNorm(model, [])).rejects.toThrow(/no images/)
    model.dispose()
  })
})
