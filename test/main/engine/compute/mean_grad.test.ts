// The project's Mean gradient (kernels/mean_grad.ts) against tfjs-core's own (the same formula
// with a full-size ones tensor, computed by hand here) on the cpu and wasm backends.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { meanGradConfig } from '../../../../src/main/engine/compute/kernels/mean_grad'

const cases: { name: string; shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { name: 'global average pool (axes 1, 2 of NHWC)', shape: [3, 5, 7, 4], axis: [1, 2], keepDims: false },
  { name: 'all axes to a scalar', shape: [2, 3, 4], axis: [0, 1, 2], keepDims: false },
  { name: 'a negative axis, dims kept', shape: [4, 6], axis: -1, keepDims: true },
  { name: 'the batch axis', shape: [5, 3], axis: 0, keepDims: false }
]

describe('Mean gradient without a full-size ones array', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('is the registered gradient of Mean', () => {
    expect(tf.getGradient('Mean')).toBe(meanGradConfig)
  })

  for (const backend of ['cpu', 'wasm']) {
    for (const c of cases) {
      it(`${backend}: ${c.name}`, async () => {
        await tf.setBackend(backend)
        const n = c.shape.reduce((a, b) => a * b, 1)
        const x = tf.tensor(
          Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7)),
          c.shape
        )
        const before = tf.memory().numTensors
        // d/dx Σ r · mean(x): r broadcast back over the reduced axes, divided by the reduced size
        const out = tf.tidy(() => tf.mean(x, c.axis, c.keepDims))
        const r = tf.tensor(
          Float32Array.from({ length: out.size }, (_, i) => Math.cos(i * 0.9) + 0.1),
          out.shape
        )
        const got = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, c.axis, c.keepDims), r)))(x)
        const axes = tf.util.parseAxisParam(c.axis, c.shape)
        const expanded = c.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        const size = axes.reduce((a, i) => a * c.shape[i], 1)
        const ref = tf.tidy(() => tf.div(tf.mul(tf.reshape(r, expanded), tf.ones(c.shape)), size))
        expect(got.shape).toEqual(c.shape)
        expect(Array.from(await got.data())).toEqual(Array.from(await ref.data()))
        tf.dispose([out, r, got, ref])
        expect(tf.memory().numTensors).toBe(before)
        x.dispose()
      })
    }
  }
})
