// Training equivalence: a few Adam steps of the benchmark network give the same
// weights with the native kernels as with the JS kernels (and as on the cpu backend).
import * as tf from '@tensorflow/tfjs'
import { beforeAll, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { benchModel } from '../../../../src/main/engine/compute/bench'
import { registerWasmKernels } from '../../../../src/main/engine/compute/kernels'
import { loadNative } from '../../../../src/main/engine/compute/native'

const native = loadNative()
// In CI the addon is installed (.ci/run): a missing one fails there instead of skipping.
const skip = !native.loaded && process.env.CI !== 'true'

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = scale * (2 * (s / 2 ** 32) - 1)
  }
  return out
}

/** Trains the benchmark network 3 steps (Adam 1e-3, batch 4) from fixed weights; returns the weights. */
function train(): Float32Array[] {
  const model = benchModel()
  const optimizer = tf.train.adam(1e-3)
  try {
    tf.tidy(() => model.setWeights(model.getWeights().map((w, i) => tf.tensor(values(w.size, 100 + i, 0.3), w.shape))))
    const x = tf.tensor4d(values(4 * 28 * 28, 1, 1), [4, 28, 28, 1])
    const y = tf.tensor2d([1, 0, 0, 1, 0, 1, 1, 0], [4, 2])
    for (let step = 0; step < 3; step++) {
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor2D), true)?.dispose()
    }
    tf.dispose([x, y])
    return model.getWeights().map((w) => w.dataSync() as Float32Array)
  } finally {
    optimizer.dispose()
    model.dispose()
  }
}

function maxRelErr(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0
  a.forEach((w, i) => {
    let num = 0
    let den = 0
    w.forEach((v, j) => {
      num = Math.max(num, Math.abs(v - b[i][j]))
      den = Math.max(den, Math.abs(b[i][j]))
    })
    worst = Math.max(worst, num / den)
  })
  return worst
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
})

it.skipIf(skip)('3 Adam steps of the bench network: native kernels = JS kernels = cpu backend', () => {
  expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
  if (!native.loaded) return
  tf.setBackend('cpu')
  const cpu = train()
  tf.setBackend('wasm')
  registerWasmKernels()
  const js = train()
  registerWasmKernels({ native: native.addon })
  const tensors = tf.memory().numTensors
  const fast = train()
  expect(tf.memory().numTensors).toBe(tensors)
  // The weights moved (3 steps × lr 1e-3), and the same way on every path.
  expect(
    maxRelErr(
      fast,
      fast.map((w, i) => values(w.length, 100 + i, 0.3))
    )
  ).toBeGreaterThan(1e-3)
  expect(maxRelErr(fast, js)).toBeLessThanOrEqual(1e-5)
  expect(maxRelErr(fast, cpu)).toBeLessThanOrEqual(1e-5)
})
