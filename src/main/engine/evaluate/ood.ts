/**
 * Out-of-distribution evaluation inputs: a built-in corruption suite generated from the test
 * split (six corruptions × three severities, deterministic by seed), and the mapping of another
 * dataset's classes onto a run's classes. Pure functions on uint8 HWC images; no tfjs.
 */
import { Rng } from '../data/rng'

/** Identifier of a corruption. */
export type CorruptionId = 'gaussian-noise' | 'blur' | 'contrast' | 'brightness' | 'jpeg' | 'pixelate'

/** Shape of one image: height, width, channels. */
export type ImageShape = [number, number, number]

/** One corruption of the suite. */
export interface CorruptionConfig {
  id: CorruptionId
  /** Name shown in tables. */
  label: string
  /** Parameter at severities 1, 2, 3 (meaning per corruption, see each entry). */
  levels: readonly [number, number, number]
  /** Corrupts one uint8 HWC image into `out` (same size). */
  apply(img: Uint8Array, shape: ImageShape, level: number, rng: Rng, out: Uint8Array): void
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v))

function gaussianKernel(sigma: number): Float64Array {
  const r = Math.max(1, Math.ceil(3 * sigma))
  const k = Float64Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)))
  const s = k.reduce((a, b) => a + b, 0)
  return k.map((v) => v / s)
}

/** Separable Gaussian blur with edge replication. */
function blur(img: Uint8Array, [h, w, c]: ImageShape, sigma: number, out: Uint8Array): void {
  const k = gaussianKernel(sigma)
  const r = (k.length - 1) / 2
  const tmp = new Float64Array(img.length)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0
        for (let i = -r; i <= r; i++) s += k[i + r] * img[(y * w + Math.min(w - 1, Math.max(0, x + i))) * c + ch]
        tmp[(y * w + x) * c + ch] = s
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        let s = 0
        for (let i = -r; i <= r; i++) s += k[i + r] * tmp[(Math.min(h - 1, Math.max(0, y + i)) * w + x) * c + ch]
        out[(y * w + x) * c + ch] = clamp8(s)
      }
}

/** JPEG's luminance quantisation table (ITU T.81, Annex K). */
const JPEG_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
  87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
  72, 92, 95, 98, 112, 100, 103, 99
]
const DCT = Float64Array.from({ length: 64 }, (_, i) => {
  const u = Math.floor(i / 8)
  const x = i % 8
  return (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16)
})

/** 8×8 block DCT of each channel, coefficients quantised with the JPEG table at `quality` (1–100). */
function jpegLike(img: Uint8Array, [h, w, c]: ImageShape, quality: number, out: Uint8Array): void {
  const scale = quality < 50 ? 5000 / quality : 200 - 2 * quality
  const q = JPEG_Q.map((v) => Math.max(1, Math.floor((v * scale + 50) / 100)))
  const block = new Float64Array(64)
  const tmp = new Float64Array(64)
  for (let by = 0; by < h; by += 8)
    for (let bx = 0; bx < w; bx += 8)
      for (let ch = 0; ch < c; ch++) {
        const at = (i: number, j: number): number => (Math.min(h - 1, by + i) * w + Math.min(w - 1, bx + j)) * c + ch
        for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) block[i * 8 + j] = img[at(i, j)] - 128
        // forward: F = D B Dᵀ, quantise, inverse: B = Dᵀ F D
        for (let u = 0; u < 8; u++)
          for (let j = 0; j < 8; j++) {
            let s = 0
            for (let i = 0; i < 8; i++) s += DCT[u * 8 + i] * block[i * 8 + j]
            tmp[u * 8 + j] = s
          }
        for (let u = 0; u < 8; u++)
          for (let v = 0; v < 8; v++) {
            let s = 0
            for (let j = 0; j < 8; j++) s += tmp[u * 8 + j] * DCT[v * 8 + j]
            block[u * 8 + v] = Math.round(s / q[u * 8 + v]) * q[u * 8 + v]
          }
        for (let i = 0; i < 8; i++)
          for (let v = 0; v < 8; v++) {
            let s = 0
            for (let u = 0; u < 8; u++) s += DCT[u * 8 + i] * block[u * 8 + v]
            tmp[i * 8 + v] = s
          }
        for (let i = 0; i < 8 && by + i < h; i++)
          for (let j = 0; j < 8 && bx + j < w; j++) {
            let s = 0
            for (let v = 0; v < 8; v++) s += tmp[i * 8 + v] * DCT[v * 8 + j]
            out[at(i, j)] = clamp8(s + 128)
          }
      }
}

/** Box-average down to `factor` × the size, then back up: each pixel takes its cell's mean. */
function pixelate(img: Uint8Array, [h, w, c]: ImageShape, factor: number, out: Uint8Array): void {
  const sh = Math.max(1, Math.round(h * factor))
  const sw = Math.max(1, Math.round(w * factor))
  const cell = (y: number, x: number): number => Math.floor((y * sh) / h) * sw + Math.floor((x * sw) / w)
  const sums = new Float64Array(sh * sw * c)
  const counts = new Float64Array(sh * sw)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const k = cell(y, x)
      counts[k]++
      for (let ch = 0; ch < c; ch++) sums[k * c + ch] += img[(y * w + x) * c + ch]
    }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const k = cell(y, x)
      for (let ch = 0; ch < c; ch++) out[(y * w + x) * c + ch] = clamp8(sums[k * c + ch] / counts[k])
    }
}

/** The corruption suite, in display order. Severities follow ImageNet-C's levels 1, 3 and 5 where it has them. */
export const CORRUPTIONS: readonly CorruptionConfig[] = [
  {
    id: 'gaussian-noise',
    label: 'Gaussian noise',
    levels: [0.08, 0.18, 0.38], // noise σ as a fraction of 255
    apply(img, _s, level, rng, out) {
      for (let i = 0; i < img.length; i++) out[i] = clamp8(img[i] + 255 * level * rng.normal())
    }
  },
  {
    id: 'blur',
    label: 'Gaussian blur',
    levels: [0.02, 0.04, 0.07], // σ as a fraction of the image side
    apply: (img, s, level, _r, out) => blur(img, s, level * Math.min(s[0], s[1]), out)
  },
  {
    id: 'contrast',
    label: 'Contrast',
    levels: [0.4, 0.2, 0.05], // kept fraction of the deviation from the image mean
    apply(img, _s, level, _r, out) {
      const mean = img.reduce((a, b) => a + b, 0) / img.length
      for (let i = 0; i < img.length; i++) out[i] = clamp8((img[i] - mean) * level + mean)
    }
  },
  {
    id: 'brightness',
    label: 'Brightness',
    levels: [0.1, 0.3, 0.5], // added fraction of 255
    apply(img, _s, level, _r, out) {
      for (let i = 0; i < img.length; i++) out[i] = clamp8(img[i] + 255 * level)
    }
  },
  {
    id: 'jpeg',
    label: 'JPEG-like quantisation',
    levels: [25, 10, 4], // JPEG quality 1–100
    apply: (img, s, level, _r, out) => jpegLike(img, s, level, out)
  },
  {
    id: 'pixelate',
    label: 'Pixelation',
    levels: [0.6, 0.4, 0.25], // kept fraction of the resolution
    apply: (img, s, level, _r, out) => pixelate(img, s, level, out)
  }
]

/** Corruption config by id; throws naming the id when unknown. */
export function corruptionById(id: string): CorruptionConfig {
  const c = CORRUPTIONS.find((x) => x.id === id)
  if (!c) throw new Error(`unknown corruption '${id}' (known: ${CORRUPTIONS.map((x) => x.id).join(', ')})`)
  return c
}

/**
 * Corrupts a batch of uint8 images (N × H × W × C). Image i of the split (`firstIndex + i`) always
 * gets the same noise for a given seed, whatever the batching.
 * @param severity 1, 2 or 3
 */
export function corruptBatch(
  images: Uint8Array,
  shape: ImageShape,
  id: CorruptionId,
  severity: 1 | 2 | 3,
  seed: number,
  firstIndex = 0
): Uint8Array {
  const c = corruptionById(id)
  if (![1, 2, 3].includes(severity)) throw new Error(`corruption severity must be 1, 2 or 3, got ${severity}`)
  const size = shape[0] * shape[1] * shape[2]
  if (images.length % size !== 0)
    throw new Error(`corruption: ${images.length} bytes is not a whole number of ${shape.join('×')} images`)
  const out = new Uint8Array(images.length)
  for (let i = 0; i < images.length / size; i++) {
    const rng = new Rng((Math.imul(seed ^ 0x9e3779b9, 31) + Math.imul(firstIndex + i, 0x85ebca6b) + severity) >>> 0)
    c.apply(
      images.subarray(i * size, (i + 1) * size),
      shape,
      c.levels[severity - 1],
      rng,
      out.subarray(i * size, (i + 1) * size)
    )
  }
  return out
}

/** How another dataset's classes map onto a run's classes. */
export interface ClassMapping {
  /** For each source class index, the run class index, or null when unmapped. */
  toRun: (number | null)[]
  /** Pairs [source name, run name] that were mapped. */
  mapped: [string, string][]
  /** Source classes with no run class (their images are left out). */
  unmappedSource: string[]
  /** Run classes no source class maps to. */
  unmatchedRun: string[]
}

/** Class name normalised for matching: lower case, runs of non-alphanumerics as one space. */
export function normaliseClassName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
}

/**
 * Maps source classes onto run classes, by normalised name, or by an explicit map
 * (source name → run name) that overrides name matching for the names it lists.
 */
export function mapClasses(
  source: readonly string[],
  run: readonly string[],
  explicit: Readonly<Record<string, string>> = {}
): ClassMapping {
  const runIndex = new Map(run.map((n, i) => [normaliseClassName(n), i]))
  for (const [from, to] of Object.entries(explicit)) {
    if (!source.includes(from))
      throw new Error(`class map: '${from}' is not a class of the dataset (classes: ${source.join(', ')})`)
    if (!run.includes(to)) throw new Error(`class map: '${to}' is not a class of the run (classes: ${run.join(', ')})`)
  }
  const toRun = source.map((name) =>
    name in explicit ? run.indexOf(explicit[name]) : (runIndex.get(normaliseClassName(name)) ?? null)
  )
  const used = new Set(toRun.filter((v): v is number => v !== null))
  return {
    toRun,
    mapped: source.flatMap((n, i) => (toRun[i] === null ? [] : [[n, run[toRun[i] as number]] as [string, string]])),
    unmappedSource: source.filter((_, i) => toRun[i] === null),
    unmatchedRun: run.filter((_, i) => !used.has(i))
  }
}

/** Single-label truth remapped to run classes: the kept row indices and their new labels. */
export function remapSingleLabels(
  yTrue: ArrayLike<number>,
  mapping: ClassMapping
): { rows: Int32Array; yTrue: Int32Array } {
  const rows: number[] = []
  const y: number[] = []
  for (let i = 0; i < yTrue.length; i++) {
    const t = mapping.toRun[yTrue[i]]
    if (t === null || t === undefined) continue
    rows.push(i)
    y.push(t)
  }
  return { rows: Int32Array.from(rows), yTrue: Int32Array.from(y) }
}

/**
 * Multi-label truth (N × source labels, NaN blank) remapped to N × run labels: a run label is
 * positive if any source label mapped to it is, negative if all observed ones are negative,
 * blank when none is observed or none maps to it.
 */
export function remapMultiLabels(
  yTrue: ArrayLike<number>,
  sourceLabels: number,
  mapping: ClassMapping,
  runLabels: number
): Float32Array {
  const n = yTrue.length / sourceLabels
  const out = new Float32Array(n * runLabels).fill(NaN)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < sourceLabels; j++) {
      const t = mapping.toRun[j]
      const v = yTrue[i * sourceLabels + j]
      if (t === null || Number.isNaN(v)) continue
      const cur = out[i * runLabels + t]
      out[i * runLabels + t] = Number.isNaN(cur) ? v : Math.max(cur, v)
    }
  }
  return out
}
