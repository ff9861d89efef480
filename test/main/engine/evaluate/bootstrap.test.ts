import { describe, expect, it } from 'vitest'
import {
  bootstrapCI,
  bootstrapMany,
  gather,
  pairedBootstrap,
  quantileSorted
} from '../../../../src/main/engine/evaluate/bootstrap'
import { metricById, type Predictions } from '../../../../src/main/engine/evaluate'
import { Rng } from '../../../../src/main/engine/data/rng'

const acc = metricById('acc').compute
const auc = metricById('auc').compute

/** n images of k classes; the true class gets `signal` extra logit. */
function synthetic(n: number, k: number, signal: number, seed: number): Predictions {
  const rng = new Rng(seed)
  const yTrue = Int32Array.from({ length: n }, () => rng.int(k))
  const probs = new Float32Array(n * k)
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, (_, j) => rng.normal() + (j === yTrue[i] ? signal : 0))
    const s = z.reduce((t, v) => t + Math.exp(v), 0)
    z.forEach((v, j) => {
      probs[i * k + j] = Math.exp(v) / s
    })
  }
  return { task: 'single', k, yTrue, probs }
}

describe('bootstrap confidence intervals', () => {
  it('percentiles interpolate linearly like numpy', () => {
    // numpy.percentile([1, 2, 3, 4], [25, 50, 97.5]) = 1.75, 2.5, 3.925
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12)
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12)
    expect(quantileSorted([1, 2, 3, 4], 0.975)).toBeCloseTo(3.925, 12)
  })

  it('gathers rows of single- and multi-label sets', () => {
    const p: Predictions = {
      task: 'multilabel',
      k: 2,
      yTrue: Float32Array.from([1, NaN, 0, 1]),
      probs: Float32Array.from([0.1, 0.2, 0.3, 0.4])
    }
    const g = gather(p, Int32Array.from([1, 1, 0]))
    expect(Array.from(g.probs)).toEqual(Array.from(Float32Array.from([0.3, 0.4, 0.3, 0.4, 0.1, 0.2])))
    expect(Array.from(g.yTrue)).toEqual([0, 1, 0, 1, 1, NaN])
  })

  it('contains the point estimate, uses 1,000 resamples and is deterministic by seed', () => {
    const p = synthetic(300, 4, 1.5, 1)
    const a = bootstrapMany(p, { acc, auc }, { seed: 7 })
    for (const r of Object.values(a)) {
      expect(r.resamples).toBe(1000)
      expect(r.ci[0]).toBeLessThanOrEqual(r.value)
      expect(r.ci[1]).toBeGreaterThanOrEqual(r.value)
      expect(r.ci[1] - r.ci[0]).toBeGreaterThan(0)
    }
    expect(bootstrapMany(p, { acc, auc }, { seed: 7 })).toEqual(a)
    expect(bootstrapCI(p, acc, { seed: 8 }).ci).not.toEqual(a.acc.ci)
  })

  it('narrows as the test set grows (roughly as 1/√n)', () => {
    const width = (n: number): number => {
      const r = bootstrapCI(synthetic(n, 3, 1, 2), acc, { seed: 3 })
      return r.ci[1] - r.ci[0]
    }
    const small = width(100)
    const large = width(1600)
    expect(large).toBeLessThan(small / 2.5)
    expect(large).toBeGreaterThan(small / 6)
  })

  it('counts and leaves out resamples where the metric is undefined', () => {
    // one positive among 10: a resample has no positive with probability 0.9^10 ≈ 0.349
    const yTrue = Int32Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    const probs = Float32Array.from([...yTrue].flatMap((_, i) => [1 - i / 10, i / 10]))
    const r = bootstrapCI({ task: 'single', k: 2, yTrue, probs }, auc, { seed: 1 })
    expect(r.undefinedResamples).toBeGreaterThan(280)
    expect(r.undefinedResamples).toBeLessThan(420)
    expect(Number.isFinite(r.ci[0]) && Number.isFinite(r.ci[1])).toBe(true)
  })
})

describe('paired bootstrap test', () => {
  it('gives p = 1 and a zero interval for identical predictions', () => {
    const p = synthetic(200, 3, 1, 4)
    const t = pairedBootstrap(p, p, acc, { seed: 5 })
    expect(t.difference).toBe(0)
    expect(t.ci).toEqual([0, 0])
    expect(t.p).toBe(1)
  })

  it('gives a small p and an interval excluding 0 for clearly different methods', () => {
    const good = synthetic(300, 3, 3, 6)
    const bad = { ...good, probs: synthetic(300, 3, 0, 9).probs }
    const t = pairedBootstrap(good, bad, acc, { seed: 5 })
    expect(t.difference).toBeGreaterThan(0.3)
    expect(t.ci[0]).toBeGreaterThan(0)
    expect(t.p).toBeLessThan(0.01)
    const reverse = pairedBootstrap(bad, good, acc, { seed: 5 })
    expect(reverse.difference).toBeCloseTo(-t.difference, 12)
    expect(reverse.p).toBeCloseTo(t.p, 12)
  })

  it('gives a large p for two equally good, independent methods', () => {
    const a = synthetic(300, 3, 1, 10)
    // b: a's logits plus independent noise, so both are about equally informative
    const b = { ...a, probs: new Float32Array(a.probs.length) }
    const rng = new Rng(12)
    for (let i = 0; i < 300; i++) {
      const row = Array.from({ length: 3 }, (_, j) => Math.log(a.probs[i * 3 + j]) + 0.3 * rng.normal())
      const s = row.reduce((t, v) => t + Math.exp(v), 0)
      row.forEach((v, j) => {
        b.probs[i * 3 + j] = Math.exp(v) / s
      })
    }
    const t = pairedBootstrap(a, b, acc, { seed: 5 })
    expect(t.p).toBeGreaterThan(0.05)
    expect(t.ci[0]).toBeLessThan(0)
    expect(t.ci[1]).toBeGreaterThan(0)
  })

  it('refuses prediction sets of different sizes', () => {
    expect(() => pairedBootstrap(synthetic(10, 2, 1, 1), synthetic(11, 2, 1, 1), acc)).toThrow(/differ in size/)
  })
})
