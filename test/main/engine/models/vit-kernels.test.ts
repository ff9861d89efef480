import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { MIN_NATIVE_MACS } from '../../../../src/main/engine/compute/kernels/matmul_native'
import { rng } from '../export/helpers'

/** Float64 reference of a (batched, broadcast) product, as plain loops. */
function reference(
  a: Float32Array,
  as: number[],
  b: Float32Array,
  bs: number[],
  ta: boolean,
  tb: boolean
): Float64Array {
  const [ra, rb] = [as.length, bs.length]
  const m = ta ? as[ra - 1] : as[ra - 2]
  const k = ta ? as[ra - 2] : as[ra - 1]
  const n = tb ? bs[rb - 2] : bs[rb - 1]
  const batchA = a.length / (m * k)
  const batchB = b.length / (k * n)
  const batch = Math.max(batchA, batchB)
  const out = new Float64Array(batch * m * n)
  for (let t = 0; t < batch; t++) {
    const oa = (batchA === 1 ? 0 : t) * m * k
    const ob = (batchB === 1 ? 0 : t) * k * n
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0
        for (let p = 0; p < k; p++) s += a[oa + (ta ? p * m + i : i * k + p)] * b[ob + (tb ? j * k + p : p * n + j)]
        out[(t * m + i) * n + j] = s
      }
    }
  }
  return out
}

function values(n: number, seed: number): Float32Array {
  const r = rng(seed)
  return Float32Array.from({ length: n }, () => 2 * r() - 1)
}

describe('BatchMatMul / _FusedMatMul through the native addon on wasm (ViT Dense layers and their gradients)', () => {
  beforeAll(async () => {
    const info = await initBackend({ backend: 'wasm', threads: 1 })
    expect(info.backend).toBe('wasm')
    if (process.env.CI === 'true') expect(info.native?.loaded).toBe(true)
    if (info.native?.loaded) expect(info.kernels).toEqual(expect.arrayContaining(['BatchMatMul', '_FusedMatMul']))
  })

  const cases: [string, number[], number[], boolean, boolean][] = [
    ['a·b', [80, 384], [384, 96], false, false],
    ['aᵀ·b (a Dense kernel gradient)', [80, 96], [80, 64], true, false],
    ['a·bᵀ (a Dense input gradient)', [80, 96], [64, 96], false, true],
    ['aᵀ·bᵀ (backend kernel)', [96, 80], [64, 96], true, true],
    ['batched 4-D attention-like, equal batches', [2, 3, 40, 32], [2, 3, 32, 40], false, false],
    ['batched, b broadcast', [3, 50, 40], [40, 48], false, false],
    ['batched, a broadcast, bᵀ', [50, 40], [3, 48, 40], false, true],
    ['small (backend kernel)', [2, 5, 7], [2, 7, 3], false, false]
  ]
  for (const [name, as, bs, ta, tb] of cases) {
    it(name, () => {
      const a = values(
        as.reduce((x, y) => x * y, 1),
        1
      )
      const b = values(
        bs.reduce((x, y) => x * y, 1),
        2
      )
      const before = tf.memory().numTensors
      const out = tf.tidy(() => tf.matMul(tf.tensor(a, as), tf.tensor(b, bs), ta, tb))
      const ref = reference(a, as, b, bs, ta, tb)
      const got = out.dataSync()
      expect(got.length).toBe(ref.length)
      let worst = 0
      got.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - ref[i]))
      })
      expect(worst).toBeLessThanOrEqual(1e-4)
      const lead = (as.length >= bs.length ? as : bs).slice(0, -2)
      expect(out.shape).toEqual([
        ...lead,
        ta ? as[as.length - 1] : as[as.length - 2],
        tb ? bs[bs.length - 2] : bs[bs.length - 1]
      ])
      out.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })
  }

  it('fused product with bias and relu (a Dense layer on tokens)', () => {
    const [m, k, n] = [64, 48, 40]
    expect(m * k * n).toBeGreaterThanOrEqual(MIN_NATIVE_MACS)
    const a = values(m * k, 3)
    const b = values(k * n, 4)
    const bias = values(n, 5)
    const got = tf.tidy(() =>
      tf.fused
        .matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]), bias: tf.tensor1d(bias), activation: 'relu' })
        .dataSync()
    )
    const ref = reference(a, [m, k], b, [k, n], false, false)
    let worst = 0
    got.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - Math.max(0, ref[i] + bias[i % n])))
    })
    expect(worst).toBeLessThanOrEqual(1e-4)
  })
})
