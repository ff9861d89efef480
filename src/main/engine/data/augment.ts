/**
 * Training augmentations (METHOD.md), as tfjs ops on a batch of N × H × W × C
 * float images in [0, 1]. All randomness comes from a seeded Rng, so a seed
 * gives the same batch on every run; evaluation uses no augmentation.
 *
 * - Minimal: random resized crop, scale 0.9–1.0.
 * - Medium: random resized crop scale 0.08–1.0, ratio 3/4–4/3; horizontal flip
 *   p = 0.5; colour jitter brightness / contrast / saturation factors in 0.6–1.4.
 * - Heavy: random resized crop scale 0.7–1.2; RandAugment, 2 ops, magnitude 15.
 *
 * The random resized crop follows torchvision: up to 10 draws of an area share in
 * `scale` and a log-uniform aspect ratio, the first that fits inside the image is
 * used, else a centre crop; a share above 1 never fits, so Heavy's 1.2 behaves as
 * in the reference implementation. Colour jitter applies brightness, contrast,
 * saturation in that fixed order (torchvision draws the order at random).
 */
import * as tf from '@tensorflow/tfjs'
import { Rng } from './rng'
import { AUGMENT_PRESET_IDS, type AugmentPreset as Preset } from '../../../shared/vocabulary'

/** Augmentation preset names. */
export type AugmentPreset = Preset

/** All presets, for settings and grids. */
export const AUGMENT_PRESETS: readonly AugmentPreset[] = AUGMENT_PRESET_IDS

/** RandAugment's operations (torchvision's list). */
export const RANDAUGMENT_OPS = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize'
] as const
export type RandAugmentOp = (typeof RANDAUGMENT_OPS)[number]

/** Crop box [y1, x1, y2, x2]: pixel-edge coordinates divided by the image side, in [0, 1]. */
export type Box = [number, number, number, number]

/** Draws a torchvision-style random resized crop box for an H × W image. */
export function randomResizedCropBox(
  rng: Rng,
  h: number,
  w: number,
  scale: [number, number],
  ratio: [number, number] = [3 / 4, 4 / 3]
): Box {
  const area = h * w
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])]
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1])
    const r = Math.exp(rng.uniform(logR[0], logR[1]))
    const cw = Math.round(Math.sqrt(target * r))
    const ch = Math.round(Math.sqrt(target / r))
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      const top = rng.int(h - ch + 1)
      const left = rng.int(w - cw + 1)
      return [top / h, left / w, (top + ch) / h, (left + cw) / w]
    }
  }
  const inRatio = w / h
  const cw = inRatio < ratio[0] ? w : inRatio > ratio[1] ? Math.round(h * ratio[1]) : w
  const ch = inRatio < ratio[0] ? Math.round(w / ratio[0]) : h
  const top = (h - ch) / 2 / h
  const left = (w - cw) / 2 / w
  return [top, left, top + ch / h, left + cw / w]
}

/** Crop boxes in cropAndResize's convention (edges mapped to first / last pixel centres; mirrored where flipped). */
function samplingBoxes(boxes: Box[], h: number, w: number, flips?: boolean[]): number[][] {
  // Edges mapped to first / last pixel centres (cropAndResize samples y1·(H−1) … y2·(H−1));
  // a mirrored crop samples from the last column to the first.
  return boxes.map(([y1, x1, y2, x2], i) => {
    const a = (x1 * w) / (w - 1 || 1)
    const b = (x2 * w - 1) / (w - 1 || 1)
    return [(y1 * h) / (h - 1 || 1), flips?.[i] ? b : a, (y2 * h - 1) / (h - 1 || 1), flips?.[i] ? a : b]
  })
}

/**
 * tf.image.cropAndResize (bilinear, extrapolation 0, output H × W) on a typed array, with the
 * arithmetic of tfjs's cpu kernel (boxes rounded to float32 as a tensor would hold them). The
 * wasm backend's kernel runs ~4× slower on 28 px batches than this loop.
 */
export function cropAndResizeArray(
  src: Float32Array,
  shape: [number, number, number, number],
  boxes: number[][]
): Float32Array {
  const [n, h, w, c] = shape
  const out = new Float32Array(n * h * w * c)
  const hScale = (v1: number, v2: number, size: number) => (size > 1 ? ((v2 - v1) * (size - 1)) / (size - 1) : 0)
  const xs = new Float64Array(w)
  for (let b = 0; b < n; b++) {
    const [y1, x1, y2, x2] = boxes[b].map(Math.fround)
    const base = b * h * w * c
    const ys = hScale(y1, y2, h)
    const xsc = hScale(x1, x2, w)
    for (let x = 0; x < w; x++) xs[x] = w > 1 ? x1 * (w - 1) + x * xsc : 0.5 * (x1 + x2) * (w - 1)
    for (let y = 0; y < h; y++) {
      const yIn = h > 1 ? y1 * (h - 1) + y * ys : 0.5 * (y1 + y2) * (h - 1)
      const row = base + y * w * c
      if (yIn < 0 || yIn > h - 1) continue
      const top = Math.floor(yIn)
      const bottom = Math.ceil(yIn)
      const yLerp = yIn - top
      const tRow = base + top * w * c
      const bRow = base + bottom * w * c
      for (let x = 0; x < w; x++) {
        const xIn = xs[x]
        if (xIn < 0 || xIn > w - 1) continue
        const left = Math.floor(xIn)
        const right = Math.ceil(xIn)
        const xLerp = xIn - left
        const o = row + x * c
        for (let k = 0; k < c; k++) {
          const tl = src[tRow + left * c + k]
          const tr = src[tRow + right * c + k]
          const bl = src[bRow + left * c + k]
          const br = src[bRow + right * c + k]
          const t = tl + (tr - tl) * xLerp
          const bt = bl + (br - bl) * xLerp
          out[o + k] = t + (bt - t) * yLerp
        }
      }
    }
  }
  return out
}

/** Crops (and mirrors where `flips[i]`) every image and resizes back to H × W. */
export function cropBatch(x: tf.Tensor4D, boxes: Box[], flips?: boolean[]): tf.Tensor4D {
  const [n, h, w, c] = x.shape
  return tf.tensor4d(
    cropAndResizeArray(x.dataSync() as Float32Array, [n, h, w, c], samplingBoxes(boxes, h, w, flips)),
    [n, h, w, c]
  )
}

function gray(x: tf.Tensor4D): tf.Tensor4D {
  return x.shape[3] === 3 ? (x.mul(tf.tensor1d([0.299, 0.587, 0.114])).sum(3, true) as tf.Tensor4D) : x
}

/** factor·x + (1 − factor)·degenerate, clipped to [0, 1]; factor broadcast per image. */
function blend(x: tf.Tensor4D, degenerate: tf.Tensor, factor: tf.Tensor): tf.Tensor4D {
  return degenerate.add(x.sub(degenerate).mul(factor)).clipByValue(0, 1) as tf.Tensor4D
}

/** Per-image factors as an N × 1 × 1 × 1 tensor. */
function perImage(values: number[]): tf.Tensor4D {
  return tf.tensor4d(values, [values.length, 1, 1, 1])
}

/** Brightness, contrast and saturation jitter with per-image factors. */
export function colourJitter(x: tf.Tensor4D, b: number[], c: number[], s: number[]): tf.Tensor4D {
  return tf.tidy(() => {
    let y = x.mul(perImage(b)).clipByValue(0, 1) as tf.Tensor4D
    y = blend(y, gray(y).mean([1, 2, 3], true), perImage(c))
    if (y.shape[3] === 3) y = blend(y, gray(y), perImage(s))
    return y
  })
}

/** Projective transform (output → input pixel map, tf.image.transform convention), zero fill. */
function affine(x: tf.Tensor4D, m: number[]): tf.Tensor4D {
  const n = x.shape[0]
  // tfjs-backend-cpu 4.22's Transform mixes up the images of a batch (checked against one image
  // at a time); there, transform image by image.
  if (n > 1 && tf.getBackend() === 'cpu')
    return tf.concat(
      (tf.split(x, n, 0) as tf.Tensor4D[]).map((img) => affine(img, m)),
      0
    )
  return tf.image.transform(
    x,
    tf.tensor2d(
      Array.from({ length: n }, () => m),
      [n, 8]
    ),
    'bilinear',
    'constant',
    0
  )
}

function equalize(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w, c] = x.shape
  const v = x.mul(255).round().clipByValue(0, 255).toInt()
  const channels: tf.Tensor[] = []
  for (let k = 0; k < c; k++) {
    const ch = v.slice([0, 0, 0, k], [1, h, w, 1]).reshape([h * w]) as tf.Tensor1D
    const hist = tf.denseBincount(ch, tf.tensor1d([], 'float32'), 256) as tf.Tensor1D
    const histData = hist.dataSync()
    let lastNonZero = 0
    for (let i = 255; i >= 0; i--)
      if (histData[i] > 0) {
        lastNonZero = histData[i]
        break
      }
    const step = Math.floor((h * w - lastNonZero) / 255)
    if (step === 0) {
      channels.push(ch.toFloat())
      continue
    }
    // torchvision: lut = (cumsum + step // 2) // step, shifted right by one, clamped.
    const lut = hist
      .cumsum()
      .add(Math.floor(step / 2))
      .div(step)
      .floor()
      .clipByValue(0, 255)
    const shifted = tf.concat([tf.zeros([1]), lut.slice(0, 255)])
    channels.push(tf.gather(shifted, ch))
  }
  return tf.stack(channels, 1).reshape([1, h, w, c]).div(255) as tf.Tensor4D
}

/**
 * One RandAugment op on images (N × H × W × C in [0, 1]; every op but Equalize treats each image
 * of a batch on its own) at magnitude bin `m`
 * of 31 (torchvision's scale: shear 0.3, translate 150/331 of the side,
 * rotate 30°, enhance factors ±0.9, posterize 8→4 bits, solarize 1→0, at m = 30).
 */
export function randAugmentOp(x: tf.Tensor4D, op: RandAugmentOp, m: number, sign: 1 | -1): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape
    const frac = m / 30
    switch (op) {
      case 'Identity':
        return x.clone()
      case 'ShearX':
        return affine(x, [1, sign * 0.3 * frac, 0, 0, 1, 0, 0, 0])
      case 'ShearY':
        return affine(x, [1, 0, 0, sign * 0.3 * frac, 1, 0, 0, 0])
      case 'TranslateX':
        return affine(x, [1, 0, -sign * (150 / 331) * w * frac, 0, 1, 0, 0, 0])
      case 'TranslateY':
        return affine(x, [1, 0, 0, 0, 1, -sign * (150 / 331) * h * frac, 0, 0])
      case 'Rotate': {
        const a = (sign * 30 * frac * Math.PI) / 180
        const cx = (w - 1) / 2
        const cy = (h - 1) / 2
        const cos = Math.cos(a)
        const sin = Math.sin(a)
        return affine(x, [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0, 0])
      }
      case 'Brightness':
        return blend(x, tf.zerosLike(x), tf.scalar(1 + sign * 0.9 * frac))
      case 'Color':
        return blend(x, gray(x), tf.scalar(1 + sign * 0.9 * frac))
      case 'Contrast':
        // the mean gray level of each image (x may hold several images)
        return blend(x, gray(x).mean([1, 2, 3], true), tf.scalar(1 + sign * 0.9 * frac))
      case 'Sharpness': {
        const c = x.shape[3]
        const k = tf
          .tensor2d([1, 1, 1, 1, 5, 1, 1, 1, 1], [3, 3])
          .div(13)
          .reshape([3, 3, 1, 1])
          .tile([1, 1, c, 1]) as tf.Tensor4D
        const blurred = tf.depthwiseConv2d(x, k, 1, 'same')
        return blend(x, blurred, tf.scalar(1 + sign * 0.9 * frac))
      }
      case 'Posterize': {
        const bits = 8 - Math.round(m / 7.5)
        const q = 2 ** (8 - bits)
        return x.mul(255).round().div(q).floor().mul(q).div(255) as tf.Tensor4D
      }
      case 'Solarize': {
        const t = 1 - frac
        return tf.where(x.greaterEqual(t), tf.scalar(1).sub(x), x) as tf.Tensor4D
      }
      case 'AutoContrast': {
        const lo = x.min([1, 2], true)
        const hi = x.max([1, 2], true)
        const range = hi.sub(lo)
        const safe = tf.where(range.greater(0), range, tf.onesLike(range))
        return tf.where(range.greater(0), x.sub(lo).div(safe), x).clipByValue(0, 1) as tf.Tensor4D
      }
      case 'Equalize':
        return equalize(x)
    }
  })
}

/** The per-image random choices of one batch, drawn before any tensor work (testable). */
export interface AugmentPlan {
  boxes: Box[]
  /** Horizontal mirror per image (Medium). */
  flips?: boolean[]
  jitter?: { b: number[]; c: number[]; s: number[] }
  ops?: { op: RandAugmentOp; sign: 1 | -1 }[][]
}

/** Draws the random parameters of a preset for a batch of n images of H × W. */
export function planAugment(preset: AugmentPreset, n: number, h: number, w: number, seed: number): AugmentPlan {
  const rng = new Rng(seed)
  const crop = (scale: [number, number]): Box[] =>
    Array.from({ length: n }, () => randomResizedCropBox(rng, h, w, scale))
  switch (preset) {
    case 'none':
      return { boxes: Array.from({ length: n }, (): Box => [0, 0, 1, 1]) }
    case 'minimal':
      return { boxes: crop([0.9, 1.0]) }
    case 'medium': {
      const boxes = crop([0.08, 1.0])
      const flips = boxes.map(() => rng.next() < 0.5)
      const f = (): number[] => Array.from({ length: n }, () => rng.uniform(0.6, 1.4))
      return { boxes, flips, jitter: { b: f(), c: f(), s: f() } }
    }
    case 'heavy': {
      const boxes = crop([0.7, 1.2])
      const ops = Array.from({ length: n }, () =>
        Array.from({ length: 2 }, () => ({
          op: RANDAUGMENT_OPS[rng.int(RANDAUGMENT_OPS.length)],
          sign: (rng.next() < 0.5 ? 1 : -1) as 1 | -1
        }))
      )
      return { boxes, ops }
    }
  }
}

/** RandAugment magnitude of the Heavy preset (bin 15 of 0–30). */
export const HEAVY_MAGNITUDE = 15

/** tf.round's rounding (half to even) of a float32 value. */
function roundHalfEven(v: number): number {
  const r = Math.round(v)
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * An op on the typed array: reads `n` images from `src` and writes them to `dst` (same layout,
 * N × H·W × C, already allocated; never the same array).
 */
type ArrayOp = (src: Float32Array, dst: Float32Array, n: number, hw: number, c: number) => void

/**
 * Equalize (see {@link randAugmentOp}) of each image of `src` (n × plane, C channels) on the
 * typed array, with tfjs's float32 arithmetic: a per-image histogram is a few loops in JS,
 * a few dozen small kernels on a backend.
 */
const equalizeArray: ArrayOp = (src, dst, n, hw, c) => {
  const v = new Uint8Array(hw)
  const hist = new Float64Array(256)
  const lut = new Float32Array(256)
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const base = i * hw * c + k
      hist.fill(0)
      for (let p = 0; p < hw; p++) {
        const q = Math.min(255, Math.max(0, roundHalfEven(Math.fround(src[base + p * c] * 255))))
        v[p] = q
        hist[q]++
      }
      let lastNonZero = 0
      for (let b = 255; b >= 0; b--)
        if (hist[b] > 0) {
          lastNonZero = hist[b]
          break
        }
      const step = Math.floor((hw - lastNonZero) / 255)
      if (step === 0) {
        for (let b = 0; b < 256; b++) lut[b] = b
      } else {
        // torchvision: lut = (cumsum + step // 2) // step, shifted right by one, clamped.
        let cum = 0
        lut[0] = 0
        for (let b = 0; b < 255; b++) {
          cum += hist[b]
          lut[b + 1] = Math.min(255, Math.max(0, Math.floor(Math.fround((cum + Math.floor(step / 2)) / step))))
        }
      }
      for (let p = 0; p < hw; p++) dst[base + p * c] = Math.fround(lut[v[p]] / 255)
    }
  }
}

/** AutoContrast (see {@link randAugmentOp}) of each image of `src` on the typed array, float32 arithmetic. */
const autoContrastArray: ArrayOp = (src, dst, n, hw, c) => {
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      const base = i * hw * c + k
      let lo = Infinity
      let hi = -Infinity
      for (let p = 0; p < hw; p++) {
        const x = src[base + p * c]
        if (x < lo) lo = x
        if (x > hi) hi = x
      }
      const range = Math.fround(hi - lo)
      for (let p = 0; p < hw; p++) {
        const x = src[base + p * c]
        const y = range > 0 ? Math.fround(Math.fround(x - lo) / range) : x
        dst[base + p * c] = Math.min(1, Math.max(0, y))
      }
    }
  }
}

/**
 * tf.image.transform (bilinear, constant fill 0, projective row [0, 0]) of every image by the
 * same matrix `m`, on the typed array: tfjs's kernel arithmetic with the matrix as float32. The
 * sampling positions, weights and in-image corners depend on the matrix only: computed once per
 * call, then applied to every image and channel.
 */
function affineArray(h: number, w: number, m: number[]): ArrayOp {
  const [a0, a1, a2, b0, b1, b2] = m.map(Math.fround)
  const hw = h * w
  // per output pixel: the four corners' pixel index (−1 outside the image) and the bilinear weights
  const corner = new Int32Array(4 * hw)
  const wgt = new Float64Array(4 * hw)
  const inside = (yy: number, xx: number) => (yy >= 0 && yy < h && xx >= 0 && xx < w ? yy * w + xx : -1)
  for (let oy = 0; oy < h; oy++) {
    for (let ox = 0; ox < w; ox++) {
      const x = a0 * ox + a1 * oy + a2
      const y = b0 * ox + b1 * oy + b2
      const yF = Math.floor(y)
      const xF = Math.floor(x)
      const p = 4 * (oy * w + ox)
      corner[p] = inside(yF, xF)
      corner[p + 1] = inside(yF, xF + 1)
      corner[p + 2] = inside(yF + 1, xF)
      corner[p + 3] = inside(yF + 1, xF + 1)
      wgt[p] = xF + 1 - x
      wgt[p + 1] = x - xF
      wgt[p + 2] = yF + 1 - y
      wgt[p + 3] = y - yF
    }
  }
  return (src, dst, n, _hw, c) => {
    for (let i = 0; i < n; i++) {
      const base = i * hw * c
      for (let q = 0; q < hw; q++) {
        const p = 4 * q
        const t0 = corner[p]
        const t1 = corner[p + 1]
        const u0 = corner[p + 2]
        const u1 = corner[p + 3]
        const wx0 = wgt[p]
        const wx1 = wgt[p + 1]
        const wy0 = wgt[p + 2]
        const wy1 = wgt[p + 3]
        const o = base + q * c
        for (let k = 0; k < c; k++) {
          const top = wx0 * (t0 < 0 ? 0 : src[base + t0 * c + k]) + wx1 * (t1 < 0 ? 0 : src[base + t1 * c + k])
          const bottom = wx0 * (u0 < 0 ? 0 : src[base + u0 * c + k]) + wx1 * (u1 < 0 ? 0 : src[base + u1 * c + k])
          dst[o + k] = wy0 * top + wy1 * bottom
        }
      }
    }
  }
}

/** Element-wise RandAugment ops on the typed array, float32 rounding at each tensor op's step. */
function pointArray(op: 'Brightness' | 'Color' | 'Posterize' | 'Solarize', sign: 1 | -1): ArrayOp {
  const f32 = Math.fround
  const frac = HEAVY_MAGNITUDE / 30
  const factor = f32(1 + sign * 0.9 * frac)
  const clip = (v: number) => Math.min(1, Math.max(0, v))
  return (src, dst, n, hw, c) => {
    const len = n * hw * c
    if (op === 'Brightness') for (let i = 0; i < len; i++) dst[i] = clip(f32(src[i] * factor))
    else if (op === 'Solarize') {
      const t = f32(1 - frac)
      for (let i = 0; i < len; i++) dst[i] = src[i] >= t ? f32(1 - src[i]) : src[i]
    } else if (op === 'Posterize') {
      const q = 2 ** (8 - (8 - Math.round(HEAVY_MAGNITUDE / 7.5)))
      for (let i = 0; i < len; i++) dst[i] = f32((Math.floor(roundHalfEven(f32(src[i] * 255)) / q) * q) / 255)
    } else {
      // Color: blend with the gray image (luma weights as float32 products, summed in channel order)
      const [r, g, b] = [0.299, 0.587, 0.114].map(f32)
      for (let p = 0; p < n * hw; p++) {
        const o = p * c
        const d = c === 3 ? f32(f32(f32(src[o] * r) + f32(src[o + 1] * g)) + f32(src[o + 2] * b)) : src[o]
        for (let k = 0; k < c; k++) dst[o + k] = clip(f32(d + f32(f32(src[o + k] - d) * factor)))
      }
    }
  }
}

/** The affine matrix of a geometric RandAugment op (output → input pixel map), or null. */
function affineOf(op: RandAugmentOp, sign: 1 | -1, h: number, w: number): number[] | null {
  const frac = HEAVY_MAGNITUDE / 30
  switch (op) {
    case 'ShearX':
      return [1, sign * 0.3 * frac, 0, 0, 1, 0, 0, 0]
    case 'ShearY':
      return [1, 0, 0, sign * 0.3 * frac, 1, 0, 0, 0]
    case 'TranslateX':
      return [1, 0, -sign * (150 / 331) * w * frac, 0, 1, 0, 0, 0]
    case 'TranslateY':
      return [1, 0, 0, 0, 1, -sign * (150 / 331) * h * frac, 0, 0]
    case 'Rotate': {
      const a = (sign * 30 * frac * Math.PI) / 180
      const [cx, cy, cos, sin] = [(w - 1) / 2, (h - 1) / 2, Math.cos(a), Math.sin(a)]
      return [cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy, 0, 0]
    }
    default:
      return null
  }
}

/** Ops computed on the typed array instead of as tensor ops (per-image statistics and resampling are slow as kernels). */
function arrayOp(op: RandAugmentOp, sign: 1 | -1, h: number, w: number): ArrayOp | null {
  if (op === 'Equalize') return equalizeArray
  if (op === 'AutoContrast') return autoContrastArray
  if (op === 'Brightness' || op === 'Color' || op === 'Posterize' || op === 'Solarize') return pointArray(op, sign)
  const m = affineOf(op, sign, h, w)
  return m ? affineArray(h, w, m) : null
}

/**
 * Applies each image's RandAugment ops (slot by slot: every image's first op, then every second
 * op) to `data` (N × H × W × C, [0, 1]). Images drawing the same op and sign at a slot share its
 * parameters (the magnitude is fixed), so each such group is transformed in one batched call: a
 * few dozen tensor ops per batch instead of a dozen per image. Equalize, AutoContrast, the
 * geometric and the point ops run on the typed array, image by image from one slot's array into
 * the next one's (no regrouping copies); Contrast and Sharpness, as tensor ops, on their group.
 */
export function randAugmentArray(
  input: Float32Array,
  shape: [number, number, number, number],
  ops: { op: RandAugmentOp; sign: 1 | -1 }[][]
): Float32Array {
  const [, h, w, c] = shape
  const plane = h * w * c
  let data = input
  const slots = Math.max(0, ...ops.map((o) => o.length))
  for (let s = 0; s < slots; s++) {
    const groups = new Map<string, number[]>()
    ops.forEach((list, i) => {
      const o = list[s]
      const key = o ? `${o.op}:${o.sign}` : 'Identity:1'
      const group = groups.get(key)
      if (group) group.push(i)
      else groups.set(key, [i])
    })
    const out = new Float32Array(data.length)
    for (const [key, idx] of groups) {
      const [op, sign] = key.split(':') as [RandAugmentOp, string]
      const onArray = arrayOp(op, Number(sign) as 1 | -1, h, w)
      if (onArray) {
        for (const image of idx)
          onArray(
            data.subarray(image * plane, (image + 1) * plane),
            out.subarray(image * plane, (image + 1) * plane),
            1,
            h * w,
            c
          )
        continue
      }
      if (op === 'Identity') {
        for (const image of idx) out.set(data.subarray(image * plane, (image + 1) * plane), image * plane)
        continue
      }
      // Regrouped on the CPU side: the wasm backend's Gather is slow, a typed-array copy is not.
      const part = new Float32Array(idx.length * plane)
      idx.forEach((image, k) => part.set(data.subarray(image * plane, (image + 1) * plane), k * plane))
      // (tidy returns the tensor: returning the typed array would make tidy walk every element)
      const y = tf.tidy(() =>
        randAugmentOp(tf.tensor4d(part, [idx.length, h, w, c]), op, HEAVY_MAGNITUDE, Number(sign) as 1 | -1)
      )
      const done = y.dataSync() as Float32Array
      y.dispose()
      idx.forEach((image, k) => out.set(done.subarray(k * plane, (k + 1) * plane), image * plane))
    }
    data = out
  }
  return data
}

/**
 * Augments a batch (N × H × W × C float in [0, 1]) with a preset; same seed, same
 * output. Returns a new tensor in [0, 1]; the input is not disposed. The crop and the
 * per-image-statistics ops run on one typed array (read once from the backend).
 */
export function augmentBatch(x: tf.Tensor4D, preset: AugmentPreset, seed: number): tf.Tensor4D {
  if (preset === 'none') return x.clone()
  const [n, h, w, c] = x.shape
  return tf.tensor4d(augmentArray(x.dataSync() as Float32Array, [n, h, w, c], preset, seed), [n, h, w, c])
}

/**
 * {@link augmentBatch} on a typed array (N × H × W × C in [0, 1]): the same values, without the
 * round trip through a tensor (the trainer's batches are made on the array and uploaded once).
 * Returns a new array; `data` is not changed.
 */
export function augmentArray(
  data: Float32Array,
  shape: [number, number, number, number],
  preset: AugmentPreset,
  seed: number
): Float32Array {
  if (preset === 'none') return data.slice()
  const [n, h, w, c] = shape
  const plan = planAugment(preset, n, h, w, seed)
  let out = cropAndResizeArray(data, [n, h, w, c], samplingBoxes(plan.boxes, h, w, plan.flips))
  if (plan.jitter) {
    const { b, c: con, s } = plan.jitter
    const y = tf.tidy(() => colourJitter(tf.tensor4d(out, [n, h, w, c]), b, con, s))
    out = y.dataSync() as Float32Array
    y.dispose()
  }
  if (plan.ops) out = randAugmentArray(out, [n, h, w, c], plan.ops)
  return out
}
