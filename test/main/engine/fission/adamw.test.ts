import * as tf from '@tensorflow/tfjs'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { AdamW } from '../../../../src/main/engine/fission/adamw'

// Reference trajectory from torch.optim.AdamW (fixtures/gen_torch.py).
const ref = JSON.parse(readFileSync(new URL('./fixtures/torch.json', import.meta.url), 'utf8')).adamw

describe('AdamW', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  const grad = (p: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const coef = tf.tensor(
        Array.from({ length: 6 }, (_, i) => i + 1),
        [2, 3]
      )
      return tf.add(tf.mul(tf.mul(tf.sub(p, tf.tensor(ref.target, [2, 3])), coef), 2), 1)
    })

  it('follows PyTorch step by step, with a learning rate changing every step', () => {
    const before = tf.memory().numTensors
    const variable = tf.tidy(() => tf.variable(tf.tensor(ref.p0, [2, 3])))
    const opt = new AdamW({ weightDecay: ref.weightDecay })
    ref.lrs.forEach((lr: number, s: number) => {
      const g = grad(variable)
      opt.apply([{ name: 'p', variable }], [g], lr)
      g.dispose()
      const got = Array.from(variable.dataSync())
      got.forEach((v, i) => expect(v).toBeCloseTo(ref.trajectory[s][i], 5))
    })
    const snap = opt.snapshot()
    expect(snap.meta.step).toBe(5)
    Array.from(snap.moments.get('p')!.m).forEach((v, i) => expect(v).toBeCloseTo(ref.m[i], 5))
    Array.from(snap.moments.get('p')!.v).forEach((v, i) => expect(v / ref.v[i]).toBeCloseTo(1, 5))
    opt.dispose()
    variable.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('resumes from a snapshot exactly where it left off', () => {
    const run = (split: boolean): number[] => {
      const variable = tf.tidy(() => tf.variable(tf.tensor(ref.p0, [2, 3])))
      let opt = new AdamW({ weightDecay: ref.weightDecay })
      ref.lrs.forEach((lr: number, s: number) => {
        if (split && s === 2) {
          const snap = opt.snapshot()
          opt.dispose()
          opt = AdamW.fromSnapshot(snap)
        }
        const g = grad(variable)
        opt.apply([{ name: 'p', variable }], [g], lr)
        g.dispose()
      })
      const out = Array.from(variable.dataSync())
      opt.dispose()
      variable.dispose()
      return out
    }
    expect(run(true)).toEqual(run(false))
  })
})
