import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import {
  AUGMENT_PRESETS,
  augmentBatch,
  colourJitter,
  cropBatch,
  HEAVY_MAGNITUDE,
  planAugment,
  randAugmentArray,
  randAugmentOp,
  RANDAUGMENT_OPS,
  randomResizedCropBox
} from '../../../../src/main/engine/data/augment'
import { Rng } from '../../../../src/main/engine/data/rng'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

function batch(n: number, h: number, w: number, c: number): tf.Tensor4D {
  return tf.tidy(
    () =>
      tf
        .range(0, n * h * w * c)
        .mod(97)
        .div(96)
        .reshape([n, h, w, c]) as tf.Tensor4D
  )
}

async function values(t: tf.Tensor): Promise<number[]> {
  return [...(await t.data())]
}

describe('augmentation presets', () => {
  it.each(AUGMENT_PRESETS.map((p) => [p]))(
    '%s: shape kept, values in [0, 1], same seed same output, no tensor leak',
    async (preset) => {
      const x = batch(6, 16, 16, 3)
      const before = tf.memory().numTensors
      const a = augmentBatch(x, preset, 11)
      const b = augmentBatch(x, preset, 11)
      const c = augmentBatch(x, preset, 12)
      expect(a.shape).toEqual([6, 16, 16, 3])
      const av = await values(a)
      expect(Math.min(...av)).toBeGreaterThanOrEqual(0)
      expect(Math.max(...av)).toBeLessThanOrEqual(1 + 1e-6)
      expect(await values(b)).toEqual(av)
      if (preset === 'none') expect(av).toEqual(await values(x))
      else expect(await values(c)).not.toEqual(av)
      tf.dispose([a, b, c])
      expect(tf.memory().numTensors).toBe(before)
      x.dispose()
    }
  )

  it.each([['cpu'], ['wasm']])(
    'heavy on %s: RandAugment batched by (op, sign) equals applying each image its own ops one image at a time',
    async (backend) => {
      if (backend === 'wasm') await initBackend({ backend: 'wasm', threads: 1 })
      else await tf.setBackend('cpu')
      const n = 64
      const x = batch(n, 12, 12, 3)
      const plan = planAugment('heavy', n, 12, 12, 5)
      // Some (op, sign) pairs are drawn by several images, so groups of more than one are exercised.
      const keys = plan.ops!.map((ops) => `${ops[0].op}:${ops[0].sign}`)
      expect(new Set(keys).size).toBeLessThan(n)
      const got = augmentBatch(x, 'heavy', 5)
      const ref = tf.tidy(() => {
        let y = cropBatch(x, plan.boxes, plan.flips)
        if (plan.jitter) y = colourJitter(y, plan.jitter.b, plan.jitter.c, plan.jitter.s)
        return tf.concat(
          (tf.split(y, n, 0) as tf.Tensor4D[]).map((img, i) =>
            plan.ops![i].reduce((acc, o) => randAugmentOp(acc, o.op, HEAVY_MAGNITUDE, o.sign), img)
          ),
          0
        )
      })
      const a = await values(got)
      const b = await values(ref)
      expect(a.length).toBe(b.length)
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-6)
      tf.dispose([x, got, ref])
      await tf.setBackend('cpu')
    }
  )

  it.each([['cpu'], ['wasm']])(
    'on %s: the typed-array crop equals tf.image.cropAndResize, and every RandAugment op on the array equals the tensor op image by image',
    async (backend) => {
      if (backend === 'wasm') await initBackend({ backend: 'wasm', threads: 1 })
      else await tf.setBackend('cpu')
      const rng = new Rng(9)
      const [n, h, w, c] = [5, 33, 40, 3]
      // skewed histograms (squared uniforms, a few flat images) so Equalize's step is > 0 and AutoContrast stretches
      const data = Float32Array.from({ length: n * h * w * c }, (_, i) =>
        Math.floor(i / (h * w * c)) === 4 ? 0.25 : rng.next() ** 2 * 0.8
      )
      const x = tf.tensor4d(data, [n, h, w, c])
      const boxes = Array.from({ length: n }, () => randomResizedCropBox(rng, h, w, [0.08, 1]))
      const flips = boxes.map((_, i) => i % 2 === 0)
      const got = await values(cropBatch(x, boxes, flips))
      const px = boxes.map(([y1, x1, y2, x2], i) => {
        const a = (x1 * w) / (w - 1)
        const b = (x2 * w - 1) / (w - 1)
        return [(y1 * h) / (h - 1), flips[i] ? b : a, (y2 * h - 1) / (h - 1), flips[i] ? a : b]
      })
      const ref = await values(
        tf.image.cropAndResize(
          x,
          tf.tensor2d(px.flat(), [n, 4]),
          tf.range(0, n, 1, 'int32') as tf.Tensor1D,
          [h, w],
          'bilinear'
        )
      )
      // same arithmetic as the cpu kernel; wasm's C++ kernel computes sampling positions in float32
      expect(Math.max(...got.map((v, i) => Math.abs(v - ref[i])))).toBeLessThanOrEqual(backend === 'cpu' ? 1e-7 : 5e-6)
      for (const op of RANDAUGMENT_OPS)
        for (const sign of [1, -1] as const) {
          const out = randAugmentArray(
            data,
            [n, h, w, c],
            Array.from({ length: n }, () => [{ op, sign }])
          )
          const each = await values(
            tf.concat(
              (tf.split(x, n, 0) as tf.Tensor4D[]).map((img) => randAugmentOp(img, op, HEAVY_MAGNITUDE, sign)),
              0
            )
          )
          const diff = Math.max(...Array.from(out, (v, i) => Math.abs(v - each[i])))
          // wasm's C++ kernels compute resampling positions in float32 (the array ops and the cpu kernels in float64)
          expect({ op, sign, diff: diff <= (backend === 'cpu' ? 1e-6 : 5e-6) ? 'ok' : diff }).toEqual({
            op,
            sign,
            diff: 'ok'
          })
        }
      x.dispose()
      await tf.setBackend('cpu')
    }
  )

  it('gray (1-channel) batches work for every preset', () => {
    const x = batch(3, 8, 8, 1)
    for (const p of AUGMENT_PRESETS) {
      const y = augmentBatch(x, p, 1)
      expect(y.shape).toEqual([3, 8, 8, 1])
      y.dispose()
    }
    x.dispose()
  })

  it('plans follow METHOD.md: Medium flips about half, jitter factors in 0.6–1.4; Heavy draws 2 RandAugment ops per image', () => {
    const m = planAugment('medium', 2000, 32, 32, 5)
    const flips = m.flips!.filter(Boolean).length / 2000
    expect(Math.abs(flips - 0.5)).toBeLessThan(0.05)
    for (const f of [...m.jitter!.b, ...m.jitter!.c, ...m.jitter!.s]) expect(f >= 0.6 && f < 1.4).toBe(true)
    const h = planAugment('heavy', 500, 32, 32, 5)
    expect(h.ops!.every((o) => o.length === 2)).toBe(true)
    expect(new Set(h.ops!.flat().map((o) => o.op)).size).toBe(RANDAUGMENT_OPS.length)
  })

  it('random resized crop boxes lie inside the image with area share in the scale range', () => {
    const rng = new Rng(3)
    for (let i = 0; i < 500; i++) {
      const [y1, x1, y2, x2] = randomResizedCropBox(rng, 100, 100, [0.08, 1])
      expect(y1 >= 0 && x1 >= 0 && y2 <= 1 && x2 <= 1 && y2 > y1 && x2 > x1).toBe(true)
      const area = (y2 - y1) * (x2 - x1)
      expect(area).toBeGreaterThan(0.07)
      expect(area).toBeLessThanOrEqual(1.0001)
    }
  })
})

describe('crop, flip and colour ops (hand-computed)', () => {
  it('the full box is the identity, a flipped full box mirrors, a quarter box keeps its corners', async () => {
    const x = tf.tensor4d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [1, 4, 4, 1])
    const ident = cropBatch(x, [[0, 0, 1, 1]])
    expect(await values(ident)).toEqual(await values(x))
    const mirror = cropBatch(x, [[0, 0, 1, 1]], [true])
    expect(await values(mirror)).toEqual([3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12])
    const q = await values(cropBatch(x, [[0, 0, 0.5, 0.5]]))
    expect([q[0], q[3], q[12], q[15]].map((v) => +v.toFixed(5))).toEqual([0, 1, 4, 5])
    tf.dispose([x, ident, mirror])
  })

  it('jitter: factors 1 are the identity, brightness 0.5 halves, saturation 0 gives luma', async () => {
    const x = tf.tensor4d([0.2, 0.4, 0.6, 0.8, 0.1, 0.3], [1, 1, 2, 3])
    expect((await values(colourJitter(x, [1], [1], [1]))).map((v) => +v.toFixed(6))).toEqual([
      0.2, 0.4, 0.6, 0.8, 0.1, 0.3
    ])
    expect((await values(colourJitter(x, [0.5], [1], [1]))).map((v) => +v.toFixed(6))).toEqual([
      0.1, 0.2, 0.3, 0.4, 0.05, 0.15
    ])
    const g = await values(colourJitter(x, [1], [1], [0]))
    const luma = 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6
    expect(g.slice(0, 3).map((v) => +v.toFixed(5))).toEqual([luma, luma, luma].map((v) => +v.toFixed(5)))
  })

  it('RandAugment ops at magnitude 15 (torchvision scale)', async () => {
    const x = tf.tensor4d([0.2, 0.5, 0.7, 1.0], [1, 2, 2, 1])
    const run = async (op: (typeof RANDAUGMENT_OPS)[number], sign: 1 | -1 = 1): Promise<number[]> =>
      (await values(randAugmentOp(x, op, 15, sign))).map((v) => +v.toFixed(5))
    expect(await run('Identity')).toEqual([0.2, 0.5, 0.7, 1])
    // posterize to 6 bits: round(v·255) with the low 2 bits cleared
    expect(await run('Posterize')).toEqual([48, 128, 176, 252].map((v) => +(v / 255).toFixed(5)))
    // solarize threshold 0.5: v ≥ 0.5 → 1 − v
    expect(await run('Solarize')).toEqual([0.2, 0.5, 0.3, 0])
    expect(await run('AutoContrast')).toEqual([0, 0.375, 0.625, 1])
    // brightness factor 1 + 0.45
    expect(await run('Brightness')).toEqual([0.29, 0.725, 1, 1])
    expect(await run('Brightness', -1)).toEqual([0.11, 0.275, 0.385, 0.55])
    // contrast factor 0.55 around the mean 0.6
    expect(await run('Contrast', -1)).toEqual([0.38, 0.545, 0.655, 0.82])
    // equalize (torchvision): values quantised to [51, 128, 178, 255] (tf.round: half to even),
    // step = (4 − 1) // 255 = 0 → unchanged
    expect(await run('Equalize')).toEqual([51, 128, 178, 255].map((v) => +(v / 255).toFixed(5)))
    // shear keeps row 0 (origin-fixed, as torchvision's RandAugment)
    expect((await run('ShearX')).slice(0, 2)).toEqual([0.2, 0.5])
    x.dispose()
  })

  it('equalize spreads a skewed histogram like torchvision', async () => {
    // 300 pixels: 200 at 10, 100 at 20 → step = (300 − 100) // 255 = 0 → identity; use 1000 px: 600 at 10, 400 at 20
    const data = [...Array(600).fill(10 / 255), ...Array(400).fill(20 / 255)]
    const x = tf.tensor4d(data, [1, 25, 40, 1])
    const y = await values(randAugmentOp(x, 'Equalize', 15, 1))
    // step = (1000 − 400) // 255 = 2; lut[10] = 0 (shifted), lut[20] = (600 + 1) // 2 = 300 → clamped 255
    expect(+y[0].toFixed(5)).toBe(0)
    expect(+y[999].toFixed(5)).toBe(1)
    x.dispose()
  })
})
