import { describe, expect, it } from 'vitest'
import {
  CORRUPTIONS,
  corruptBatch,
  corruptionById,
  mapClasses,
  remapMultiLabels,
  remapSingleLabels,
  type ImageShape
} from '../../../../src/main/engine/evaluate/ood'
import { Rng } from '../../../../src/main/engine/data/rng'

/** A smooth synthetic 28×28 RGB "scan": a bright disc on a gradient, plus texture. */
function scan(n: number, shape: ImageShape = [28, 28, 3]): Uint8Array {
  const [h, w, c] = shape
  const out = new Uint8Array(n * h * w * c)
  for (let k = 0; k < n; k++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const disc = (x - 14 - k) ** 2 + (y - 12) ** 2 < 60 ? 120 : 0
          out[((k * h + y) * w + x) * c + ch] = Math.min(255, 40 + 3 * x + disc + 20 * Math.sin(x * y * 0.3 + ch + k))
        }
  return out
}

const mse = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0) / a.length

describe('corruption suite', () => {
  it('has the six corruptions with three severities each', () => {
    expect(CORRUPTIONS.map((c) => c.id)).toEqual([
      'gaussian-noise',
      'blur',
      'contrast',
      'brightness',
      'jpeg',
      'pixelate'
    ])
    for (const c of CORRUPTIONS) expect(c.levels).toHaveLength(3)
    expect(() => corruptionById('fog')).toThrow(/unknown corruption 'fog'/)
  })

  it('damages the image more at each severity', () => {
    const img = scan(2)
    for (const c of CORRUPTIONS) {
      const errors = ([1, 2, 3] as const).map((s) => mse(corruptBatch(img, [28, 28, 3], c.id, s, 1), img))
      expect(errors[0], c.id).toBeGreaterThan(0)
      expect(errors[1], c.id).toBeGreaterThan(errors[0])
      expect(errors[2], c.id).toBeGreaterThan(errors[1])
    }
  })

  it('is deterministic by seed and independent of batching', () => {
    const img = scan(6)
    const whole = corruptBatch(img, [28, 28, 3], 'gaussian-noise', 2, 42)
    expect(corruptBatch(img, [28, 28, 3], 'gaussian-noise', 2, 42)).toEqual(whole)
    const size = 28 * 28 * 3
    const parts = [
      corruptBatch(img.subarray(0, 4 * size), [28, 28, 3], 'gaussian-noise', 2, 42, 0),
      corruptBatch(img.subarray(4 * size), [28, 28, 3], 'gaussian-noise', 2, 42, 4)
    ]
    expect(Uint8Array.from([...parts[0], ...parts[1]])).toEqual(whole)
    expect(corruptBatch(img, [28, 28, 3], 'gaussian-noise', 2, 43)).not.toEqual(whole)
  })

  it('adds zero-mean noise of σ = level × 255 (level 1: 0.08)', () => {
    const img = new Uint8Array(64 * 64).fill(128)
    const out = corruptBatch(img, [64, 64, 1], 'gaussian-noise', 1, 3)
    const d = Array.from(out, (v) => v - 128)
    const mean = d.reduce((a, b) => a + b, 0) / d.length
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length)
    expect(Math.abs(mean)).toBeLessThan(1)
    expect(sd).toBeGreaterThan(0.08 * 255 * 0.95)
    expect(sd).toBeLessThan(0.08 * 255 * 1.05)
  })

  it('blurs a point into the normalised Gaussian kernel (σ = 1 px, by hand)', () => {
    const img = new Uint8Array(81)
    img[40] = 255
    const out = new Uint8Array(81)
    corruptionById('blur').apply(img, [9, 9, 1], 1 / 9, new Rng(0), out)
    // 1-D kernel at 0: 1 / (1 + 2(e^-0.5 + e^-2 + e^-4.5)) = 0.39905; centre = 255 × 0.39905² = 40.6
    expect(out[40]).toBe(41)
    // one step right: 255 × 0.39905 × 0.39905 e^-0.5 = 24.6
    expect(out[41]).toBe(25)
    expect(out[39]).toBe(out[41])
  })

  it('scales contrast about the image mean and adds brightness, clipped to [0, 255] (by hand)', () => {
    const img = Uint8Array.from([0, 100, 200, 100]) // mean 100
    const out = new Uint8Array(4)
    corruptionById('contrast').apply(img, [2, 2, 1], 0.4, new Rng(0), out)
    expect(Array.from(out)).toEqual([60, 100, 140, 100])
    corruptionById('brightness').apply(img, [2, 2, 1], 0.3, new Rng(0), out)
    expect(Array.from(out)).toEqual([77, 177, 255, 177]) // +76.5 → round
  })

  it('pixelates by averaging blocks (4×4 at half resolution, by hand)', () => {
    const img = Uint8Array.from([0, 2, 10, 10, 4, 6, 10, 10, 1, 1, 7, 9, 1, 1, 7, 9])
    const out = new Uint8Array(16)
    corruptionById('pixelate').apply(img, [4, 4, 1], 0.5, new Rng(0), out)
    expect(Array.from(out)).toEqual([3, 3, 10, 10, 3, 3, 10, 10, 1, 1, 8, 8, 1, 1, 8, 8])
  })

  it('JPEG-like quantisation at quality 100 is near-lossless, and lower quality loses detail', () => {
    const img = scan(1, [16, 16, 1])
    const out = new Uint8Array(img.length)
    corruptionById('jpeg').apply(img, [16, 16, 1], 100, new Rng(0), out)
    expect(Math.max(...Array.from(out, (v, i) => Math.abs(v - img[i])))).toBeLessThanOrEqual(1)
    // a flat 8×8 block has only a DC coefficient: 8 × (140 − 128) = 96; at quality 4 the DC step is
    // floor((16 × 5000/4 + 50) / 100) = 200, so it rounds to 0 and the block becomes flat 128
    const flat = new Uint8Array(64).fill(140)
    const f = new Uint8Array(64)
    corruptionById('jpeg').apply(flat, [8, 8, 1], 4, new Rng(0), f)
    expect(Array.from(new Set(f))).toEqual([128])
    corruptionById('jpeg').apply(flat, [8, 8, 1], 50, new Rng(0), f)
    // quality 50: step 16, 96 / 16 = 6 exactly → lossless
    expect(Array.from(new Set(f))).toEqual([140])
  })

  it('rejects a bad severity or a ragged batch', () => {
    expect(() => corruptBatch(new Uint8Array(4), [2, 2, 1], 'blur', 4 as 1, 0)).toThrow(/severity/)
    expect(() => corruptBatch(new Uint8Array(5), [2, 2, 1], 'blur', 1, 0)).toThrow(/whole number/)
  })
})

describe('class mapping', () => {
  const run = ['No Finding', 'Pleural Effusion', 'Cardiomegaly']

  it('maps by normalised name and reports what is left over', () => {
    const m = mapClasses(['cardiomegaly', 'pleural_effusion', 'Nodule'], run)
    expect(m.toRun).toEqual([2, 1, null])
    expect(m.mapped).toEqual([
      ['cardiomegaly', 'Cardiomegaly'],
      ['pleural_effusion', 'Pleural Effusion']
    ])
    expect(m.unmappedSource).toEqual(['Nodule'])
    expect(m.unmatchedRun).toEqual(['No Finding'])
  })

  it('an explicit map overrides names and is checked', () => {
    const m = mapClasses(['normal', 'effusion'], run, { normal: 'No Finding', effusion: 'Pleural Effusion' })
    expect(m.toRun).toEqual([0, 1])
    expect(() => mapClasses(['normal'], run, { norm: 'No Finding' })).toThrow(/'norm' is not a class of the dataset/)
    expect(() => mapClasses(['normal'], run, { normal: 'Healthy' })).toThrow(/'Healthy' is not a class of the run/)
  })

  it('remaps single labels, dropping unmapped classes', () => {
    const m = mapClasses(['b', 'x', 'a'], ['a', 'b'])
    const r = remapSingleLabels(Int32Array.from([0, 1, 2, 2, 1, 0]), m)
    expect(Array.from(r.rows)).toEqual([0, 2, 3, 5])
    expect(Array.from(r.yTrue)).toEqual([1, 0, 0, 1])
  })

  it('remaps multi-labels: any positive wins, blanks where nothing maps or nothing is observed', () => {
    const m = mapClasses(['a', 'a2', 'z'], ['a', 'b'], { a2: 'a' })
    const y = Float32Array.from([0, 1, 1, /**/ 0, NaN, 0, /**/ NaN, NaN, 1])
    expect(Array.from(remapMultiLabels(y, 3, m, 2))).toEqual([1, NaN, 0, NaN, NaN, NaN])
  })
})
