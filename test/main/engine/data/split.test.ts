import { describe, expect, it } from 'vitest'
import { parseSplit, stratifiedGroupSplit } from '../../../../src/main/engine/data/split'
import { permutation, Rng } from '../../../../src/main/engine/data/rng'

describe('stratifiedGroupSplit', () => {
  it('hits the requested shares per class when every image is its own group', () => {
    // 100 images of class a, 50 of class b
    const units = Array.from({ length: 150 }, (_, i) => ({ stratum: i < 100 ? 'a' : 'b', group: `g${i}` }))
    const s = stratifiedGroupSplit(units, { train: 0.7, val: 0.1, test: 0.2 }, 3)
    const count = (cls: string, split: string): number =>
      s.filter((x, i) => units[i].stratum === cls && x === split).length
    expect([count('a', 'train'), count('a', 'val'), count('a', 'test')]).toEqual([70, 10, 20])
    expect([count('b', 'train'), count('b', 'val'), count('b', 'test')]).toEqual([35, 5, 10])
  })
  it('keeps each group together, is seeded and differs across seeds', () => {
    const units = Array.from({ length: 300 }, (_, i) => ({ stratum: String(i % 3), group: `p${Math.floor(i / 4)}` }))
    const a = stratifiedGroupSplit(units, { train: 0.7, val: 0.1, test: 0.2 }, 1)
    for (let i = 0; i < units.length; i++)
      for (let j = 0; j < units.length; j++) if (units[i].group === units[j].group) expect(a[i]).toBe(a[j])
    expect(stratifiedGroupSplit(units, { train: 0.7, val: 0.1, test: 0.2 }, 1)).toEqual(a)
    expect(stratifiedGroupSplit(units, { train: 0.7, val: 0.1, test: 0.2 }, 2)).not.toEqual(a)
  })
  it('parses 70/10/20 and rejects nonsense', () => {
    expect(parseSplit('70/10/20')).toEqual({ train: 0.7, val: 0.1, test: 0.2 })
    expect(parseSplit('0.8/0/0.2')).toEqual({ train: 0.8, val: 0, test: 0.2 })
    expect(() => parseSplit('70/30')).toThrow(/three/)
    expect(() => parseSplit('0/50/50')).toThrow()
  })
})

describe('Rng', () => {
  it('is reproducible, uniform-ish, and permutation is a permutation', () => {
    const a = new Rng(42)
    const b = new Rng(42)
    const xs = Array.from({ length: 10_000 }, () => a.next())
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.next()))
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01)
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    expect([...permutation(1000, 5)].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
  })
})
