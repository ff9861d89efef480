// The native kernels at the shapes ResNet-18/50 and MobileNetV2 use (scaled down): the small
// feature maps of the deep stages (image-major blocks, padding taps skipped), 1×1 and 3×3 at
// strides 1 and 2, the 7×7 stride-2 stem on 1 and 3 channels, odd sizes and batches that are
// not a multiple of the kernels' 6-image blocks; forward and both gradients (tf.grads) against
// the tfjs cpu backend.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { registerWasmKernels } from '../../../../src/main/engine/compute/kernels'
import { loadNative } from '../../../../src/main/engine/compute/native'

const native = loadNative()
const skip = !native.loaded && process.env.CI !== 'true'

type Shape4 = [number, number, number, number]

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = (2 * s) / 2 ** 32 - 1
  }
  return out
}

function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]))
    den = Math.max(den, Math.abs(b[i]))
  }
  return den === 0 ? num : num / den
}

/** [y, dx, dw] of Σ(op(x, w) · r) on one backend. */
function run(
  backend: 'cpu' | 'wasm',
  op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  xs: Shape4,
  ws: Shape4
): Float32Array[] {
  tf.setBackend(backend)
  return tf.tidy(() => {
    const x = tf.tensor4d(values(tf.util.sizeFromShape(xs), 1), xs)
    const w = tf.tensor4d(values(tf.util.sizeFromShape(ws), 2), ws)
    const y = op(x, w)
    const r = tf.tensor(values(y.size, 3), y.shape)
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
      x,
      w
    ])
    return [y, ...g].map((t) => t.dataSync() as Float32Array)
  })
}

function expectSame(op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, xs: Shape4, ws: Shape4): void {
  const ref = run('cpu', op, xs, ws)
  tf.setBackend('wasm')
  const tensors = tf.memory().numTensors
  const buffers = tf.engine().backend.numDataIds()
  const got = run('wasm', op, xs, ws)
  expect(tf.memory().numTensors).toBe(tensors)
  expect(tf.engine().backend.numDataIds()).toBe(buffers)
  for (let i = 0; i < 3; i++) {
    expect(got[i].some((v) => v !== 0)).toBe(true)
    expect(relErr(got[i], ref[i]), ['y', 'dx', 'dw'][i]).toBeLessThanOrEqual(1e-5)
  }
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
  if (native.loaded) registerWasmKernels({ native: native.addon })
})

describe.skipIf(skip)('native convolutions at ResNet / MobileNetV2 shapes', () => {
  it('the addon is loaded (required in CI)', () => {
    expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
  })
  const cases: { x: Shape4; k: number; co: number; s: number; pad: 'same' | 'valid' }[] = [
    // Deep-stage 3×3 on tiny maps: 2×2, 3×3 (odd), 4×4, 7×7; batches 7 and 13 leave partial 6-image blocks.
    { x: [7, 2, 2, 32], k: 3, co: 32, s: 1, pad: 'same' },
    { x: [13, 3, 3, 16], k: 3, co: 48, s: 1, pad: 'same' },
    { x: [7, 4, 4, 32], k: 3, co: 64, s: 1, pad: 'same' },
    { x: [5, 7, 7, 16], k: 3, co: 16, s: 1, pad: 'same' },
    { x: [7, 5, 5, 16], k: 3, co: 32, s: 1, pad: 'valid' },
    // Stride 2 into a small map (the first block of a stage), odd input size.
    { x: [7, 9, 9, 16], k: 3, co: 32, s: 2, pad: 'same' },
    { x: [6, 4, 4, 32], k: 3, co: 64, s: 2, pad: 'same' },
    // 1×1 projections and the stride-2 1×1 shortcut.
    { x: [7, 4, 4, 32], k: 1, co: 64, s: 1, pad: 'same' },
    { x: [7, 7, 7, 32], k: 1, co: 64, s: 2, pad: 'same' },
    { x: [3, 8, 8, 64], k: 1, co: 16, s: 1, pad: 'valid' },
    // Larger maps (pixel-major blocks) with 16·k channels.
    { x: [2, 17, 17, 16], k: 3, co: 32, s: 1, pad: 'same' },
    { x: [2, 17, 17, 16], k: 3, co: 32, s: 2, pad: 'same' },
    // The 7×7 stride-2 stem on 1 and 3 channels, odd sizes, and the MobileNetV2 3×3 stride-2 stem.
    { x: [3, 21, 21, 3], k: 7, co: 64, s: 2, pad: 'same' },
    { x: [2, 19, 20, 1], k: 7, co: 64, s: 2, pad: 'same' },
    { x: [3, 17, 17, 3], k: 3, co: 32, s: 2, pad: 'same' },
    { x: [2, 15, 15, 1], k: 3, co: 32, s: 1, pad: 'valid' },
    // Strided input gradients by phases: explicitly padded (valid) even and odd inputs, channels
    // not a multiple of 64, 1×1 stride 2 with valid padding, a 5×5 window, stride 3.
    { x: [5, 10, 10, 16], k: 3, co: 32, s: 2, pad: 'valid' },
    { x: [3, 11, 11, 48], k: 3, co: 16, s: 2, pad: 'valid' },
    { x: [4, 9, 9, 32], k: 1, co: 48, s: 2, pad: 'valid' },
    { x: [3, 13, 13, 16], k: 5, co: 16, s: 2, pad: 'same' },
    { x: [2, 12, 11, 16], k: 3, co: 32, s: 3, pad: 'same' },
    // A filter over 1 MiB with many output channels and a short sum: output-channel panels.
    { x: [2, 3, 3, 272], k: 1, co: 1088, s: 1, pad: 'same' },
    { x: [2, 4, 4, 384], k: 1, co: 1024, s: 2, pad: 'valid' }
  ]
  for (const c of cases) {
    it(`conv x ${c.x} ${c.k}×${c.k} → ${c.co} stride ${c.s} ${c.pad}`, () => {
      expectSame((x, w) => tf.conv2d(x, w, c.s, c.pad), c.x, [c.k, c.k, c.x[3], c.co])
    })
  }
  it('fused conv with bias and ReLU on a 2×2 map (image-major path, activation applied)', () => {
    const go = (): Float32Array =>
      tf.tidy(() => {
        const x = tf.tensor4d(values(7 * 2 * 2 * 32, 4), [7, 2, 2, 32])
        const w = tf.tensor4d(values(9 * 32 * 64, 5), [3, 3, 32, 64])
        const bias = tf.tensor1d(values(64, 6))
        return tf.fused
          .conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu6' })
          .mul(1)
          .dataSync() as Float32Array
      })
    tf.setBackend('cpu')
    const ref = go()
    tf.setBackend('wasm')
    const got = go()
    expect(got.some((v) => v === 0)).toBe(true)
    expect(relErr(got, ref)).toBeLessThanOrEqual(1e-5)
  })
  it('input gradients keep the transposed filter for the same filter tensor only (micro-batches), strides 1 and 2', () => {
    for (const s of [1, 2]) {
      const xs: Shape4 = [3, 9, 9, 32]
      const ys: Shape4 = s === 1 ? [3, 9, 9, 48] : [3, 5, 5, 48]
      const go = (w: tf.Tensor4D, dySeed: number): Float32Array =>
        tf.tidy(
          () =>
            tf
              .conv2dTranspose(tf.tensor4d(values(tf.util.sizeFromShape(ys), dySeed), ys), w, xs, s, 'same')
              .dataSync() as Float32Array
        )
      const steps = (): Float32Array[] => {
        const w1 = tf.tensor4d(values(9 * 32 * 48, 11), [3, 3, 32, 48])
        const w2 = tf.tensor4d(values(9 * 32 * 48, 12), [3, 3, 32, 48])
        // w1 twice (the second keeps its transpose), then w2, then w1 again (reads the kept transpose).
        const out = [go(w1, 1), go(w1, 2), go(w2, 1), go(w1, 3)]
        tf.dispose([w1, w2])
        return out
      }
      tf.setBackend('cpu')
      const ref = steps()
      tf.setBackend('wasm')
      const got = steps()
      got.forEach((g, i) => expect(relErr(g, ref[i]), `stride ${s}, call ${i}`).toBeLessThanOrEqual(1e-5))
    }
  })
})
