import { describe, expect, it } from 'vitest'
import { cyclicT, fggSnapshotEpochs, isFggSnapshot, lrAt } from '../../../../src/main/engine/fission/schedules'

const a1 = 1e-5
const a2 = 1e-8
const cyclic = { kind: 'cyclic' as const, a1, a2, cycle: 4 }

describe('cyclic schedule (METHOD.md, per iteration)', () => {
  it('matches hand-computed values of the triangular formula', () => {
    // epoch 1, i = 0 of 10: t = (1 + 0)/4 = 0.25 → a1·0.5 + a2·0.5
    expect(lrAt(cyclic, 1, 0, 10)).toBeCloseTo(0.5 * a1 + 0.5 * a2, 20)
    // epoch 1, i = 5: t = (1 + 0.5)/4 = 0.375 → a1·0.25 + a2·0.75
    expect(lrAt(cyclic, 1, 5, 10)).toBeCloseTo(0.25 * a1 + 0.75 * a2, 20)
    // epoch 2, i = 0: t = 0.5 → the minimum a2 (second branch: a1·0 + a2·1)
    expect(lrAt(cyclic, 2, 0, 10)).toBeCloseTo(a2, 20)
    // epoch 3, i = 0: t = 0.75 → a1·0.5 + a2·0.5; epoch 4 (4 mod 4 = 0), i = 0: t = 0 → a1
    expect(lrAt(cyclic, 3, 0, 10)).toBeCloseTo(0.5 * a1 + 0.5 * a2, 20)
    expect(lrAt(cyclic, 4, 0, 10)).toBe(a1)
    // epoch 4, i = 9 of 10: t = 0.225 → a1·0.55 + a2·0.45
    expect(lrAt(cyclic, 4, 9, 10)).toBeCloseTo(0.55 * a1 + 0.45 * a2, 20)
    expect(cyclicT(6, 3, 12, 4)).toBeCloseTo((2 + 0.25) / 4, 15)
  })

  it('changes within an epoch, every iteration', () => {
    const values = Array.from({ length: 17 }, (_, i) => lrAt(cyclic, 1, i, 17))
    expect(new Set(values).size).toBe(17)
    for (let i = 1; i < 17; i++) expect(values[i]).toBeLessThan(values[i - 1])
  })
})

describe('FGG snapshots', () => {
  it('falls at epochs 1, 5, 9, 13, 17 for 17 epochs with cycle 4', () => {
    expect(fggSnapshotEpochs(17, 4)).toEqual([1, 5, 9, 13, 17])
    expect(isFggSnapshot(3, 4)).toBe(false)
  })
  it('scales down with the cycle', () => {
    expect(fggSnapshotEpochs(6, 2)).toEqual([2, 4, 6])
    expect(fggSnapshotEpochs(5, 4)).toEqual([1, 5])
  })
  it('snapshots are the learning-rate minima: the rate just before the end of a snapshot epoch is the lowest of its cycle', () => {
    const iters = 20
    // epochs 2 (whose first iteration sits at t = 0.5, the minimum after snapshot 1) to 5
    const cycle = Array.from({ length: 4 * iters }, (_, k) => lrAt(cyclic, 2 + Math.floor(k / iters), k % iters, iters))
    // after that minimum the rate climbs to a1 (start of epoch 4) and falls again to its lowest at the end of epoch 5
    const falling = cycle.slice(2 * iters)
    expect(falling[0]).toBe(a1)
    expect(Math.min(...falling)).toBe(falling[falling.length - 1])
    expect(Math.max(...cycle)).toBe(a1)
    expect(cycle[0]).toBe(a2)
  })
})

describe('cosine schedule (per epoch, PyTorch CosineAnnealingLR)', () => {
  it('matches hand-computed values', () => {
    const s = { kind: 'cosine' as const, lr: 1, tMax: 4 }
    expect([1, 2, 3, 4].map((e) => lrAt(s, e, 0, 10))).toEqual([
      1,
      expect.closeTo(0.8535533905932737, 12),
      expect.closeTo(0.5, 12),
      expect.closeTo(0.14644660940672627, 12)
    ])
    expect(lrAt(s, 2, 7, 10)).toBe(lrAt(s, 2, 0, 10))
  })
})
