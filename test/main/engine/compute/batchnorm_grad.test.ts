// The project's FusedBatchNorm gradient (kernels/batchnorm_grad.ts) against autodiff of the
// same formula written with element-wise ops ((x − mean) · rsqrt(var + ε) · scale + offset),
// whose gradients come from tfjs-core's Sub/Mul/Rsqrt/Add, on the cpu and wasm backends.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { batchNormGradConfig } from '../../../../src/main/engine/compute/kernels/batchnorm_grad'

const EPS = 1e-3

function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = lo + ((hi - lo) * s) / 2 ** 32
  }
  return out
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]))
    den = Math.max(den, Math.abs(b[i]))
  }
  return num / Math.max(den, 1e-12)
}

interface Case {
  name: string
  x: number[]
  param: number[]
  moments: boolean
}
const cases: Case[] = [
  { name: 'NHWC activations, per-channel params (inference form)', x: [3, 5, 4, 6], param: [6], moments: false },
  { name: 'NHWC activations, batch moments (training form)', x: [4, 3, 5, 8], param: [8], moments: true },
  { name: '2-D activations, batch moments', x: [7, 5], param: [5], moments: true },
  { name: 'params of the same rank as x ([1,1,1,C])', x: [2, 3, 3, 4], param: [1, 1, 1, 4], moments: false }
]
// (Without a scale or an offset tfjs cannot differentiate batchNorm at all, with core's gradient
// as with ours: the engine clones every input listed in inputsToSave and maps every returned
// gradient to an input, and fails on the absent one. The app's BatchNorm layers have both.)

describe('FusedBatchNorm gradient without Tile', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('is the registered gradient of FusedBatchNorm', () => {
    expect(tf.getGradient('FusedBatchNorm')).toBe(batchNormGradConfig)
  })

  for (const backend of ['cpu', 'wasm']) {
    for (const c of cases) {
      it(`${backend}: ${c.name}`, async () => {
        await tf.setBackend(backend)
        const n = (shape: number[]) => shape.reduce((a, b) => a * b, 1)
        const x = tf.tensor(values(n(c.x), 1), c.x)
        const mean0 = tf.tensor(values(n(c.param), 2, -0.2, 0.2), c.param)
        const var0 = tf.tensor(values(n(c.param), 3, 0.5, 1.5), c.param)
        const scale = tf.tensor(values(n(c.param), 4, 0.5, 2), c.param)
        const offset = tf.tensor(values(n(c.param), 5), c.param)
        const r = tf.tensor(values(n(c.x), 6), c.x)
        const axes = c.x.map((_, i) => i).slice(0, c.x.length - 1)
        const before = tf.memory().numTensors
        // Σ r · y through the fused op and through elementary ops, as a function of the inputs the case uses.
        const names = ['x', ...(c.moments ? [] : ['mean', 'variance']), 'scale', 'offset']
        const all: Record<string, tf.Tensor> = { x, mean: mean0, variance: var0, scale, offset }
        const inputs = names.map((k) => all[k])
        const f =
          (kind: 'fused' | 'plain') =>
          (...ts: tf.Tensor[]): tf.Scalar => {
            const t = Object.fromEntries(names.map((k, i) => [k, ts[i]])) as Record<string, tf.Tensor>
            const { mean, variance } = c.moments ? tf.moments(t.x, axes) : { mean: t.mean, variance: t.variance }
            let y: tf.Tensor
            if (kind === 'fused') y = tf.batchNorm(t.x, mean, variance, t.offset, t.scale, EPS)
            else {
              y = tf.mul(tf.sub(t.x, mean), tf.rsqrt(tf.add(variance, EPS)))
              y = tf.add(tf.mul(y, t.scale), t.offset)
            }
            return tf.sum(tf.mul(y, r))
          }
        const got = tf.grads(f('fused'))(inputs)
        const ref = tf.grads(f('plain'))(inputs)
        for (let i = 0; i < inputs.length; i++) {
          expect(got[i].shape, names[i]).toEqual(ref[i].shape)
          expect(
            relErr(got[i].dataSync() as Float32Array, ref[i].dataSync() as Float32Array),
            names[i]
          ).toBeLessThanOrEqual(1e-5)
        }
        tf.dispose([...got, ...ref])
        expect(tf.memory().numTensors).toBe(before)
        tf.dispose([x, mean0, var0, scale, offset, r])
      })
    }
  }
})
