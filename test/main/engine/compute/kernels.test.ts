// Every project wasm kernel set (the JS kernels, and the native addon's when it
// is built) against the tfjs cpu backend: forward outputs and gradients (tf.grads
// on both backends), on many shapes, plus backend-level leak checks.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { nativeKernelSet, registerWasmKernels, wasmKernelConfigs } from '../../../../src/main/engine/compute/kernels'
import { conv2dBackpropFilterLimits } from '../../../../src/main/engine/compute/kernels/conv2d_backprop_filter'
import { loadNative } from '../../../../src/main/engine/compute/native'

const native = loadNative()
// In CI the addon is installed (.ci/run): a missing one fails there instead of skipping.
const skipNative = !native.loaded && process.env.CI !== 'true'

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]]
type Shape4 = [number, number, number, number]

/** Deterministic pseudo-random values in [-1, 1) (or small integers, to force max-pool ties). */
function values(n: number, seed: number, ties = false): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    const u = s / 2 ** 32
    out[i] = ties ? Math.floor(u * 3) : 2 * u - 1
  }
  return out
}

/** op(x, w), then the gradients of Σ(op(x, w) · r) w.r.t. x and w, on one backend. */
function gradsOn(
  backend: 'cpu' | 'wasm',
  op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  xShape: Shape4,
  wShape: Shape4,
  ties = false
): Float32Array[] {
  tf.setBackend(backend)
  return tf.tidy(() => {
    const x = tf.tensor4d(values(tf.util.sizeFromShape(xShape), 1, ties), xShape)
    const w = tf.tensor4d(values(tf.util.sizeFromShape(wShape), 2), wShape)
    const outShape = op(x, w).shape
    const r = tf.tensor(values(tf.util.sizeFromShape(outShape), 3), outShape)
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
      x,
      w
    ])
    return [op(x, w), ...g].map((t) => t.dataSync() as Float32Array)
  })
}

/** max |a − b| / max |b|. */
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

/** Compares wasm with cpu and checks that nothing leaked on wasm (engine tensors and backend buffers). */
function expectSameGrads(
  op: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  xShape: Shape4,
  wShape: Shape4,
  opts: { ties?: boolean; grads?: number } = {}
): void {
  const ref = gradsOn('cpu', op, xShape, wShape, opts.ties)
  tf.setBackend('wasm')
  const tensors = tf.memory().numTensors
  const buffers = tf.engine().backend.numDataIds()
  const got = gradsOn('wasm', op, xShape, wShape, opts.ties)
  expect(tf.memory().numTensors).toBe(tensors)
  expect(tf.engine().backend.numDataIds()).toBe(buffers)
  // The forward output, then each gradient.
  for (let i = 0; i <= (opts.grads ?? 2); i++) {
    expect(got[i].some((v) => v !== 0)).toBe(true)
    expect(relErr(got[i], ref[i])).toBeLessThanOrEqual(1e-5)
  }
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
})

it('the native addon is built (required in CI)', () => {
  if (skipNative) return
  expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
})

// Each block below runs once per kernel set, with that set registered.
const kernelSets = [
  { name: 'JS kernels', skip: false, register: () => registerWasmKernels() },
  {
    name: 'native kernels',
    skip: skipNative,
    register: () => registerWasmKernels({ native: native.loaded ? native.addon : undefined })
  }
]

describe.each(kernelSets)('$name', ({ name, skip, register }) => {
  beforeAll(() => {
    if (!skip) register()
  })

  describe.skipIf(skip)('registry', () => {
    it('registers each listed kernel on wasm', () => {
      const configs = name === 'JS kernels' || !native.loaded ? wasmKernelConfigs : nativeKernelSet(native.addon)
      const names = tf.getKernelsForBackend('wasm').map((k) => k.kernelName)
      for (const k of configs) expect(names).toContain(k.kernelName)
      for (const k of configs) expect(String(tf.getKernel(k.kernelName, 'wasm')?.kernelFunc)).toBe(String(k.kernelFunc))
    })
  })

  const convCases: { x: Shape4; k: [number, number]; co: number; s: number | [number, number]; pad: Pad }[] = [
    { x: [2, 9, 9, 3], k: [3, 3], co: 4, s: 1, pad: 'same' },
    { x: [1, 8, 8, 2], k: [3, 3], co: 3, s: 2, pad: 'same' },
    { x: [2, 11, 10, 3], k: [5, 5], co: 2, s: 2, pad: 'valid' },
    { x: [1, 7, 7, 1], k: [1, 1], co: 5, s: 1, pad: 'valid' },
    { x: [1, 7, 8, 2], k: [1, 1], co: 3, s: 2, pad: 'same' },
    { x: [1, 13, 13, 2], k: [7, 7], co: 3, s: 1, pad: 'same' },
    { x: [2, 15, 14, 1], k: [7, 7], co: 2, s: 2, pad: 'valid' },
    { x: [1, 6, 6, 2], k: [5, 5], co: 2, s: 2, pad: 'same' },
    {
      x: [2, 10, 9, 3],
      k: [3, 3],
      co: 4,
      s: 2,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0]
      ]
    },
    {
      x: [1, 9, 9, 2],
      k: [3, 3],
      co: 2,
      s: 1,
      pad: [
        [0, 0],
        [0, 3],
        [1, 1],
        [0, 0]
      ]
    },
    { x: [1, 9, 11, 2], k: [3, 5], co: 3, s: [2, 1], pad: 'same' },
    { x: [3, 28, 28, 1], k: [3, 3], co: 16, s: 1, pad: 'same' },
    { x: [2, 14, 14, 16], k: [3, 3], co: 32, s: 1, pad: 'same' },
    // Output channels in multiples of 16 take the native direct-convolution paths.
    { x: [1, 11, 9, 3], k: [5, 5], co: 16, s: 2, pad: 'valid' },
    {
      x: [2, 9, 10, 16],
      k: [3, 3],
      co: 16,
      s: 2,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0]
      ]
    },
    { x: [1, 13, 13, 16], k: [7, 7], co: 32, s: 1, pad: 'same' },
    { x: [1, 7, 7, 32], k: [1, 1], co: 16, s: 1, pad: 'valid' },
    {
      x: [1, 9, 9, 16],
      k: [3, 3],
      co: 16,
      s: 1,
      pad: [
        [0, 0],
        [0, 3],
        [1, 1],
        [0, 0]
      ]
    },
    { x: [1, 8, 9, 20], k: [3, 3], co: 16, s: 1, pad: 'same' },
    { x: [2, 7, 8, 16], k: [3, 1], co: 48, s: [2, 1], pad: 'same' },
    // 1 to 4 input channels with 16·k outputs take the padded-image kernels: border and
    // interior pixels, rows not a multiple of 6 pixels wide, strides, 1×1 to 5×5 windows.
    { x: [2, 13, 11, 1], k: [3, 3], co: 16, s: 1, pad: 'same' },
    { x: [1, 9, 7, 2], k: [3, 3], co: 32, s: 2, pad: 'same' },
    {
      x: [2, 10, 15, 3],
      k: [3, 3],
      co: 16,
      s: 1,
      pad: [
        [0, 0],
        [2, 0],
        [1, 3],
        [0, 0]
      ]
    },
    { x: [1, 12, 9, 4], k: [5, 5], co: 16, s: 2, pad: 'valid' },
    { x: [1, 8, 14, 3], k: [5, 3], co: 16, s: [1, 2], pad: 'same' },
    { x: [1, 5, 4, 1], k: [1, 1], co: 16, s: 1, pad: 'valid' },
    { x: [2, 7, 6, 4], k: [3, 3], co: 16, s: 1, pad: 'valid' },
    { x: [1, 6, 19, 2], k: [7, 7], co: 16, s: 1, pad: 'same' },
    // Its input gradient convolves dy (3 channels here) with the flipped filter.
    { x: [2, 9, 8, 16], k: [3, 3], co: 3, s: 1, pad: 'same' }
  ]

  describe.skipIf(skip).each([
    ['patch matrix × dy', conv2dBackpropFilterLimits.maxPatchFloats],
    ['forward convolution', 0]
  ])('Conv2D, Conv2DBackpropFilter (%s) and Conv2DBackpropInput', (_path, limit) => {
    for (const c of convCases) {
      it(`x ${c.x} kernel ${c.k}→${c.co} stride ${c.s} pad ${JSON.stringify(c.pad)}`, () => {
        const saved = conv2dBackpropFilterLimits.maxPatchFloats
        conv2dBackpropFilterLimits.maxPatchFloats = limit
        try {
          expectSameGrads((x, w) => tf.conv2d(x, w, c.s, c.pad), c.x, [c.k[0], c.k[1], c.x[3], c.co])
        } finally {
          conv2dBackpropFilterLimits.maxPatchFloats = saved
        }
      })
    }
  })

  const poolCases: { x: Shape4; f: number; s: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 8, 3], f: 2, s: 2, pad: 'valid' },
    { x: [1, 9, 9, 2], f: 3, s: 2, pad: 'same' },
    { x: [2, 7, 7, 4], f: 3, s: 1, pad: 'same' },
    { x: [1, 10, 10, 1], f: 2, s: 1, pad: 'valid' },
    { x: [1, 11, 9, 5], f: 5, s: 2, pad: 'valid' },
    { x: [4, 28, 28, 16], f: 2, s: 2, pad: 'valid' }
  ]

  /** Keeps the unused filter in the graph (gradient 0) so one helper serves every op. */
  const withDummy = (y: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D => tf.add(y, tf.mul(tf.sum(w), 0))

  describe.skipIf(skip)('MaxPool, MaxPoolGrad (and the backend AvgPoolGrad kept as is)', () => {
    for (const c of poolCases) {
      it(`max pool x ${c.x} window ${c.f} stride ${c.s} ${c.pad}, with ties`, () => {
        expectSameGrads((x, w) => withDummy(tf.maxPool(x, c.f, c.s, c.pad), w), c.x, [1, 1, 1, 1], {
          ties: true,
          grads: 1
        })
      })
      it(`max pool x ${c.x} window ${c.f} stride ${c.s} ${c.pad}`, () => {
        expectSameGrads((x, w) => withDummy(tf.maxPool(x, c.f, c.s, c.pad), w), c.x, [1, 1, 1, 1], { grads: 1 })
      })
      it(`avg pool x ${c.x} window ${c.f} stride ${c.s} ${c.pad}`, () => {
        expectSameGrads((x, w) => withDummy(tf.avgPool(x, c.f, c.s, c.pad), w), c.x, [1, 1, 1, 1], { grads: 1 })
      })
    }
  })

  const depthwiseCases: { x: Shape4; k: number; m: number; s: number; pad: Pad }[] = [
    { x: [2, 9, 9, 3], k: 3, m: 1, s: 1, pad: 'same' },
    { x: [1, 8, 8, 2], k: 3, m: 2, s: 2, pad: 'same' },
    { x: [2, 11, 11, 3], k: 5, m: 1, s: 2, pad: 'valid' },
    { x: [1, 7, 7, 4], k: 1, m: 3, s: 1, pad: 'valid' },
    { x: [1, 13, 12, 2], k: 7, m: 1, s: 1, pad: 'same' },
    {
      x: [2, 10, 9, 3],
      k: 3,
      m: 2,
      s: 2,
      pad: [
        [0, 0],
        [1, 2],
        [2, 0],
        [0, 0]
      ]
    }
  ]

  describe.skipIf(skip)('DepthwiseConv2dNativeBackpropFilter and ...Input', () => {
    for (const c of depthwiseCases) {
      it(`x ${c.x} kernel ${c.k} multiplier ${c.m} stride ${c.s} pad ${JSON.stringify(c.pad)}`, () => {
        expectSameGrads((x, w) => tf.depthwiseConv2d(x, w, c.s, c.pad), c.x, [c.k, c.k, c.x[3], c.m])
      })
    }
  })

  describe.skipIf(skip)('FusedConv2D (inference), Add of a bias, Sum and Mean', () => {
    for (const activation of ['linear', 'relu', 'relu6', 'elu'] as const) {
      for (const c of convCases) {
        it(`fused conv ${activation} x ${c.x} kernel ${c.k}→${c.co} stride ${c.s} pad ${JSON.stringify(c.pad)}`, () => {
          const w: Shape4 = [c.k[0], c.k[1], c.x[3], c.co]
          // Scaled so relu6 clips some outputs.
          const run = (): Float32Array =>
            tf.tidy(() => {
              const x = tf.tensor4d(values(tf.util.sizeFromShape(c.x), 5), c.x).mul(8) as tf.Tensor4D
              const f = tf.tensor4d(values(tf.util.sizeFromShape(w), 6), w)
              const bias = tf.tensor1d(values(c.co, 7))
              return tf.fused
                .conv2d({ x, filter: f, strides: c.s, pad: c.pad, bias, activation })
                .dataSync() as Float32Array
            })
          tf.setBackend('cpu')
          const ref = run()
          tf.setBackend('wasm')
          const tensors = tf.memory().numTensors
          const got = run()
          expect(tf.memory().numTensors).toBe(tensors)
          expect(relErr(got, ref)).toBeLessThanOrEqual(1e-5)
        })
      }
    }
    it('clone and cast: values survive disposing the source; casts convert; no buffer leaks', () => {
      tf.setBackend('wasm')
      const buffers = tf.engine().backend.numDataIds()
      const x = tf.tensor2d([1.5, -2, 3, 4.25], [2, 2])
      const copy = tf.clone(x)
      const same = tf.cast(x, 'float32')
      const ints = tf.cast(x, 'int32')
      x.dispose()
      expect(Array.from(copy.dataSync())).toEqual([1.5, -2, 3, 4.25])
      expect(Array.from(same.dataSync())).toEqual([1.5, -2, 3, 4.25])
      expect(ints.dtype).toBe('int32')
      expect(Array.from(ints.dataSync())).toEqual([1, -2, 3, 4])
      tf.dispose([copy, same, ints])
      expect(tf.engine().backend.numDataIds()).toBe(buffers)
    })
    it('dilated conv (forward only: tfjs has no dilated conv gradient)', () => {
      const run = (): Float32Array =>
        tf.tidy(() => {
          const x = tf.tensor4d(values(2 * 11 * 10 * 3, 11), [2, 11, 10, 3])
          const f = tf.tensor4d(values(3 * 3 * 3 * 16, 12), [3, 3, 3, 16])
          return tf.conv2d(x, f, 1, 'same', 'NHWC', [2, 3]).dataSync() as Float32Array
        })
      tf.setBackend('cpu')
      const ref = run()
      tf.setBackend('wasm')
      expect(relErr(run(), ref)).toBeLessThanOrEqual(1e-5)
    })
    const sums: { shape: number[]; axes: number[]; keepDims: boolean }[] = [
      { shape: [4, 5, 6, 7], axes: [0, 1, 2], keepDims: false },
      { shape: [4, 5, 6, 7], axes: [0, 1], keepDims: true },
      { shape: [300, 3], axes: [0], keepDims: false },
      { shape: [4, 5, 6], axes: [0, 1, 2], keepDims: false },
      { shape: [4, 5, 6], axes: [1, 2], keepDims: false },
      { shape: [4, 5, 6], axes: [0, 2], keepDims: true }
    ]
    for (const c of sums)
      for (const reduce of [tf.sum, tf.mean]) {
        it(`${reduce === tf.sum ? 'sum' : 'mean'} ${c.shape} over ${c.axes} keepDims ${c.keepDims}`, () => {
          const run = (): tf.Tensor =>
            tf.tidy(() => reduce(tf.tensor(values(tf.util.sizeFromShape(c.shape), 8), c.shape), c.axes, c.keepDims))
          tf.setBackend('cpu')
          const ref = run()
          tf.setBackend('wasm')
          const got = run()
          expect(got.shape).toEqual(ref.shape)
          expect(relErr(got.dataSync() as Float32Array, ref.dataSync() as Float32Array)).toBeLessThanOrEqual(1e-5)
          tf.dispose([got, ref])
        })
      }
    const adds: [number[], number[]][] = [
      [[2, 5, 5, 7], [7]],
      [[7], [3, 4, 7]],
      [
        [2, 3, 4],
        [1, 1, 4]
      ],
      [
        [2, 3, 4],
        [3, 4]
      ],
      [
        [2, 3],
        [2, 3]
      ]
    ]
    for (const [a, b] of adds) {
      it(`add ${a} + ${b}`, () => {
        const run = (): Float32Array =>
          tf.tidy(
            () =>
              tf
                .add(
                  tf.tensor(values(tf.util.sizeFromShape(a), 9), a),
                  tf.tensor(values(tf.util.sizeFromShape(b), 10), b)
                )
                .dataSync() as Float32Array
          )
        tf.setBackend('cpu')
        const ref = run()
        tf.setBackend('wasm')
        expect(relErr(run(), ref)).toBe(0)
      })
    }
  })
})
