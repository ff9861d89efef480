// The multi-threaded wasm build under Node (own process: the thread count is fixed at start-up).
import * as tf from '@tensorflow/tfjs'
import { expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'

it('starts 2 XNNPACK threads and computes the same conv gradients as the cpu backend', async () => {
  const info = await initBackend({ backend: 'wasm', threads: 2 })
  expect(info.backend).toBe('wasm')
  expect(info.threads).toBe(2)
  expect(info.warning).toBeUndefined()
  const run = (backend: string): Float32Array[] => {
    tf.setBackend(backend)
    return tf.tidy(() => {
      const x = tf.linspace(-1, 1, 4 * 15 * 15 * 8).reshape([4, 15, 15, 8]) as tf.Tensor4D
      const w = tf.linspace(1, -0.5, 3 * 3 * 8 * 16).reshape([3, 3, 8, 16]) as tf.Tensor4D
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')))
      )
      return g([x, w]).map((t) => t.dataSync() as Float32Array)
    })
  }
  const ref = run('cpu')
  const got = run('wasm')
  for (let i = 0; i < 2; i++) {
    let num = 0
    let den = 0
    ref[i].forEach((v, j) => {
      num = Math.max(num, Math.abs(v - got[i][j]))
      den = Math.max(den, Math.abs(v))
    })
    expect(num / den).toBeLessThanOrEqual(1e-5)
  }
})
