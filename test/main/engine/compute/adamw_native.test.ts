// The fused AdamW kernel (native, wasm) against PyTorch's AdamW formula in double precision
// and against the tfjs ops the cpu backend runs: three steps with weight decay on odd sizes.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { FF_ADAMW } from '../../../../src/main/engine/compute/kernels/adamw'
import { loadNative } from '../../../../src/main/engine/compute/native'
import { AdamW } from '../../../../src/main/engine/fission/adamw'

import { values } from './values'

const native = loadNative()
const skip = !native.loaded && process.env.CI !== 'true'

const shapes = [[3, 3, 5, 7], [37], [1, 1]]
const cfg = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }
const lrs = [1e-2, 3e-3, 1e-3]

/** torch.optim.AdamW's update, in double precision. */
function reference(): Float64Array[] {
  return shapes.map((shape, k) => {
    const n = tf.util.sizeFromShape(shape)
    const p = Float64Array.from(values(n, 10 + k))
    const m = new Float64Array(n)
    const v = new Float64Array(n)
    lrs.forEach((lr, s) => {
      const t = s + 1
      const g = values(n, 100 * t + k, 0.1 * t)
      for (let i = 0; i < n; i++) {
        p[i] *= 1 - lr * cfg.weightDecay
        m[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * g[i]
        v[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * g[i] * g[i]
        const denom = Math.sqrt(v[i]) / Math.sqrt(1 - cfg.beta2 ** t) + cfg.epsilon
        p[i] -= (lr / (1 - cfg.beta1 ** t)) * (m[i] / denom)
      }
    })
    return p
  })
}

function train(backend: 'cpu' | 'wasm'): { params: Float32Array[]; tensorsDelta: number } {
  tf.setBackend(backend)
  const vars = shapes.map((shape, k) => ({
    name: `w${k}`,
    variable: tf.variable(tf.tensor(values(tf.util.sizeFromShape(shape), 10 + k), shape))
  }))
  const opt = new AdamW(cfg)
  const before = tf.memory().numTensors
  lrs.forEach((lr, s) => {
    const grads = shapes.map((shape, k) =>
      tf.tensor(values(tf.util.sizeFromShape(shape), 100 * (s + 1) + k, 0.1 * (s + 1)), shape)
    )
    opt.apply(vars, grads, lr)
    tf.dispose(grads)
  })
  const slots = 2 * shapes.length
  const tensorsDelta = tf.memory().numTensors - before - slots
  const params = vars.map((v) => v.variable.dataSync() as Float32Array)
  opt.dispose()
  vars.forEach((v) => v.variable.dispose())
  return { params, tensorsDelta }
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
})

it.skipIf(skip)(
  "runs as one native kernel on wasm, matches PyTorch's formula and the tfjs ops, and leaks nothing",
  () => {
    expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
    expect(tf.getKernel(FF_ADAMW, 'wasm')).toBeDefined()
    expect(tf.getKernel(FF_ADAMW, 'cpu')).toBeUndefined()
    const ref = reference()
    const wasm = train('wasm')
    const cpu = train('cpu')
    expect(wasm.tensorsDelta).toBe(0)
    expect(cpu.tensorsDelta).toBe(0)
    shapes.forEach((_, k) => {
      for (let i = 0; i < ref[k].length; i++) {
        expect(Math.abs(wasm.params[k][i] - ref[k][i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref[k][i])))
        expect(Math.abs(wasm.params[k][i] - cpu.params[k][i])).toBeLessThanOrEqual(
          1e-6 * Math.max(1, Math.abs(cpu.params[k][i]))
        )
      }
      // The update moved every weight (the step is not a no-op).
      const start = values(ref[k].length, 10 + k)
      expect(wasm.params[k].every((p, i) => p !== start[i])).toBe(true)
    })
    tf.setBackend('wasm')
  }
)
