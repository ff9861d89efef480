// The element-wise tail of a BatchNorm CNN training step on wasm + native kernels against the
// tfjs cpu backend (which runs tfjs-core's own formulas): same-shape and per-channel Add, Sub,
// Multiply; the gradients of Mean (BatchNorm's moments), Relu, Relu6 (with NaN and the 0 / 6
// edges) and Square; and BatchNorm in training as Layers builds it (moments → batchNorm),
// forward and every gradient, through tf.grads on both backends; depthwise convolution
// gradients (MobileNetV2's 3×3, strides 1 and 2). Odd sizes, 1 and 3 channels.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { registerWasmKernels } from '../../../../src/main/engine/compute/kernels'
import { loadNative } from '../../../../src/main/engine/compute/native'
import { FF_BN_RELU } from '../../../../src/main/engine/compute/kernels/batchnorm_grad'
import { convBn, inputLayer } from '../../../../src/main/engine/models/layers'

import { values } from './values'

const native = loadNative()
const skip = !native.loaded && process.env.CI !== 'true'

function close(got: Float32Array, ref: Float32Array, tol: number): void {
  expect(got.length).toBe(ref.length)
  let den = 0
  for (const v of ref) if (Number.isFinite(v)) den = Math.max(den, Math.abs(v))
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i])) expect(got[i], `element ${i}`).toBeNaN()
    else expect(Math.abs(got[i] - ref[i]), `element ${i}`).toBeLessThanOrEqual(tol * Math.max(den, 1e-30))
  }
}

/** Runs f on cpu and on wasm (checking wasm leaks nothing) and compares every output. */
function same(f: () => tf.Tensor[], tol = 1e-6): void {
  tf.setBackend('cpu')
  const ref = tf.tidy(() => f().map((t) => t.dataSync() as Float32Array))
  tf.setBackend('wasm')
  const tensors = tf.memory().numTensors
  const buffers = tf.engine().backend.numDataIds()
  const got = tf.tidy(() => f().map((t) => t.dataSync() as Float32Array))
  expect(tf.memory().numTensors).toBe(tensors)
  expect(tf.engine().backend.numDataIds()).toBe(buffers)
  expect(got.length).toBe(ref.length)
  got.forEach((g, i) => close(g, ref[i], tol))
}

const t = (shape: number[], seed: number, scale = 1): tf.Tensor =>
  tf.tensor(values(tf.util.sizeFromShape(shape), seed, scale), shape)

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  if (native.loaded) registerWasmKernels({ native: native.addon })
})

describe.skipIf(skip)('native element-wise kernels and gradients', () => {
  it('the addon is loaded (required in CI)', () => {
    expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
  })
  for (const [a, b] of [
    [
      [3, 5, 7, 3],
      [3, 5, 7, 3]
    ],
    [[3, 5, 7, 3], [3]],
    [
      [1, 1, 1, 5],
      [2, 3, 3, 5]
    ],
    [
      [2, 9, 1],
      [1, 1, 1]
    ],
    [[4, 6], [6]]
  ]) {
    it(`add, sub, mul ${a} with ${b} (both orders)`, () => {
      same(() => {
        const x = t(a, 1)
        const y = t(b, 2)
        return [tf.add(x, y), tf.sub(x, y), tf.mul(x, y), tf.sub(y, x), tf.mul(y, x), tf.add(y, x)]
      }, 0)
    })
  }
  it("relu, relu6, square and clipByValue (tf.layers' ReLU 6) gradients, with NaN, 0 and 6 in x and a NaN in dy", () => {
    const x = Float32Array.from([...values(61, 3, 8), NaN, 0, 6, -0, 6.000001, 5.999999])
    const dy = Float32Array.from([...values(66, 4), NaN])
    same(() => {
      const xt = tf.tensor1d(x)
      const r = tf.tensor1d(dy)
      const g = (op: (v: tf.Tensor) => tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(op(v), r)))(xt)
      // (Not relu6's forward: the wasm backend's own Relu6 maps NaN to 0, the cpu backend keeps NaN.)
      const clip = (v: tf.Tensor): tf.Tensor => tf.clipByValue(v, 0, 6)
      return [g(tf.relu), g(tf.relu6), g(tf.square), g(clip), tf.relu(xt)]
    }, 0)
  })
  for (const shape of [
    [5, 7, 3, 1],
    [3, 4, 5, 3],
    [2, 9, 11, 16],
    [7, 2, 2, 64]
  ]) {
    it(`mean over leading axes ${shape} and its gradient (keepDims both ways; also over inner axes)`, () => {
      same(() => {
        const x = t(shape, 5)
        const r1 = t([shape[3]], 6)
        const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, [0, 1, 2]), r1)))(x)
        const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, [0, 1, 2], true), r1)))(x)
        const r3 = t([shape[0], shape[3]], 7)
        const g3 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, [1, 2]), r3)))(x)
        return [tf.mean(x, [0, 1, 2]), g1, g2, g3]
      }, 1e-6)
    })
    it(`BatchNorm in training (moments → batchNorm, as tf.layers builds it) ${shape}: output and every gradient`, () => {
      same(() => {
        const c = shape[3]
        const x = t(shape, 8, 3)
        const gamma = t([c], 9)
        const beta = t([c], 10)
        const r = t(shape, 11)
        const f = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
          const { mean, variance } = tf.moments(v, [0, 1, 2])
          return tf.sum(tf.mul(tf.relu(tf.batchNorm(v, mean, variance, b, g, 1e-5)), r))
        }
        const grads = tf.grads(f)([x, gamma, beta])
        // Inference form with fixed statistics, without offset and scale, and with [1, 1, 1, C] ones.
        const m = t([c], 12)
        const v = tf.abs(t([c], 13))
        const plain = tf.batchNorm(x, m, v, undefined, undefined, 1e-3)
        const shaped = tf.batchNorm(
          x,
          m.reshape([1, 1, 1, c]),
          v.reshape([1, 1, 1, c]),
          beta.reshape([1, 1, 1, c]),
          gamma.reshape([1, 1, 1, c]),
          1e-3
        )
        return [f(x, gamma, beta), ...grads, plain, shaped]
      }, 2e-5)
    })
  }
  for (const c of [
    { x: [3, 9, 9, 16], s: 1, pad: 'same' },
    { x: [2, 11, 10, 32], s: 2, pad: 'same' },
    { x: [5, 7, 7, 3], s: 2, pad: 'valid' },
    { x: [2, 6, 5, 1], s: 1, pad: 'valid' }
  ] as const) {
    it(`depthwise 3×3 x ${c.x} stride ${c.s} ${c.pad}: output and both gradients`, () => {
      same(() => {
        const x = t([...c.x], 14)
        const w = t([3, 3, c.x[3], 1], 15)
        const f = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
          tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad)
        const r = t(f(x, w).shape, 16)
        return [f(x, w), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)))([x, w])]
      }, 1e-5)
    })
  }
  // Slices (the zero padding's gradient before a strided convolution): inner, trailing whole,
  // every axis, -1 sizes, empty, 1-D and 2-D, and the gradient of a pad through tf.grads.
  for (const [shape, begin, size] of [
    [
      [3, 9, 8, 5],
      [0, 1, 1, 0],
      [3, 7, 6, 5]
    ],
    [
      [2, 7, 7, 3],
      [1, 2, 0, 0],
      [1, -1, 7, 3]
    ],
    [
      [4, 5, 6, 7],
      [1, 1, 2, 3],
      [2, 3, 3, 4]
    ],
    [
      [4, 5, 6, 1],
      [0, 0, 0, 0],
      [4, 5, 6, 1]
    ],
    [
      [5, 3],
      [2, 1],
      [0, 2]
    ],
    [[17], [3], [11]],
    [
      [2, 3, 4, 5, 6],
      [1, 0, 1, 2, 3],
      [1, 3, 2, 2, 3]
    ]
  ] as [number[], number[], number[]][]) {
    it(`slice ${shape} from ${begin} size ${size}`, () => {
      same(() => [tf.slice(t(shape, 7), begin, size)], 0)
    })
  }
  it('the gradient of a zero padding (a slice) on 1 and 3 channels, odd sizes', () => {
    for (const c of [1, 3, 16]) {
      same(() => {
        const x = t([3, 7, 9, c], 8)
        const r = t([3, 9, 11, c], 9)
        return [
          tf.grad((v: tf.Tensor) =>
            tf.sum(
              tf.mul(
                tf.pad(v as tf.Tensor4D, [
                  [0, 0],
                  [1, 1],
                  [1, 1],
                  [0, 0]
                ]),
                r
              )
            )
          )(x)
        ]
      }, 0)
    }
  })
  it('BatchNorm + ReLU in one pass (FFBatchNormRelu) equals relu(batchNorm) on the cpu backend, 1, 3 and 16 channels, NaN kept', () => {
    for (const c of [1, 3, 16]) {
      const xv = values(2 * 5 * 7 * c, 21, 3)
      xv[4] = NaN
      const args = (): Record<string, tf.Tensor> => ({
        x: tf.tensor4d(xv, [2, 5, 7, c]),
        mean: t([c], 22),
        variance: tf.tensor1d(values(c, 23, 0.5).map((v) => v + 0.6)),
        offset: t([c], 24),
        scale: t([c], 25)
      })
      tf.setBackend('cpu')
      const ref = tf.tidy(() => {
        const a = args()
        return tf.relu(tf.batchNorm(a.x, a.mean, a.variance, a.offset, a.scale, 1e-5)).dataSync() as Float32Array
      })
      tf.setBackend('wasm')
      const tensors = tf.memory().numTensors
      const got = tf.tidy(
        () =>
          (tf.engine().runKernel(FF_BN_RELU, args(), { varianceEpsilon: 1e-5 }) as tf.Tensor).dataSync() as Float32Array
      )
      expect(tf.memory().numTensors).toBe(tensors)
      expect(Number.isNaN(got[4])).toBe(true)
      close(got, ref, 1e-6)
    }
  })
  it('convBn in inference fuses BatchNorm and ReLU (no Relu kernel), same outputs as the cpu backend; training unchanged', async () => {
    const build = (): tf.LayersModel => {
      const input = inputLayer([9, 9, 3])
      let y = convBn(input, 'a', 5, { filters: 16, kernel: 3 })
      y = convBn(y, 'b', 5, { filters: 16, kernel: 3, strides: 2, activation: 'none' })
      y = convBn(y, 'c', 5, { filters: 16, kernel: 1 })
      return tf.model({ inputs: input, outputs: y })
    }
    const x = values(3 * 9 * 9 * 3, 26)
    const run = (m: tf.LayersModel, training: boolean): Float32Array =>
      tf.tidy(() => (m.apply(tf.tensor4d(x, [3, 9, 9, 3]), { training }) as tf.Tensor).dataSync() as Float32Array)
    tf.setBackend('cpu')
    const cpuModel = build()
    // Moving statistics away from 0 / 1 so that inference differs from training.
    for (const l of cpuModel.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      const [g, b, m, v] = l.getWeights()
      l.setWeights([g.add(0.3), b.add(0.1), m.add(0.2), v.add(0.5)])
    }
    const weights = cpuModel.getWeights().map((w) => w.dataSync().slice())
    const shapes = cpuModel.getWeights().map((w) => w.shape)
    const refInfer = run(cpuModel, false)
    const refTrain = run(cpuModel, true)
    cpuModel.dispose()
    tf.setBackend('wasm')
    const m = build()
    const ws = weights.map((w, i) => tf.tensor(w, shapes[i]))
    m.setWeights(ws)
    tf.dispose(ws)
    const tensors = tf.memory().numTensors
    const prof = await tf.profile(() => run(m, false))
    const names = prof.kernels.map((k) => k.name)
    expect(names.filter((n) => n === FF_BN_RELU).length).toBe(2)
    expect(names).not.toContain('Relu')
    close(run(m, false), refInfer, 1e-5)
    close(run(m, true), refTrain, 1e-5)
    expect(tf.memory().numTensors).toBe(tensors)
    m.dispose()
  })
})
