/**
 * The embedded default dataset: synthetic chest-radiograph-like images,
 * generated deterministically from a seed, so a new user can run the whole
 * method offline without downloading anything.
 *
 * Each image is a frontal "chest": two dark lung fields inside brighter soft
 * tissue, rib shadows, a mediastinum and detector noise, with random pose,
 * body size and exposure. The class is a finding drawn into a lung field:
 *
 * - `normal`: no finding;
 * - `nodule`: a small round opacity (faint to obvious);
 * - `consolidation`: a larger irregular patchy opacity;
 * - `effusion`: fluid filling the lower part of one lung, with a meniscus.
 *
 * The findings vary in size, place and contrast, and a small fraction of
 * labels is flipped (as in real reads), so the task is neither trivial nor
 * hopeless and the fusion methods differ.
 *
 * The `shifted` variant is the out-of-distribution twin: another "scanner":
 * a different tone curve and exposure, stronger noise, an anti-scatter grid
 * pattern, vignetting and a slight blur. Same classes, same findings.
 */

import { Rng } from '../data/rng'

/** Class names, in label-index order. */
export const SYNTHETIC_CLASSES = ['normal', 'nodule', 'consolidation', 'effusion'] as const

/** Options of the generator. */
export interface SyntheticOptions {
  /** Images per split. */
  counts: { train: number; val: number; test: number }
  /** Side of the square images in pixels (default 28). */
  size?: number
  /** Seed; the same seed gives byte-identical images. */
  seed: number
  /** `source` (in-domain) or `shifted` (the out-of-distribution scanner). */
  variant: 'source' | 'shifted'
  /** Fraction of labels flipped to another class, in [0, 1) (default 0.04). */
  labelNoise?: number
}

/** One generated split: gray uint8 images (N × size × size) and labels. */
export interface SyntheticSplit {
  images: Uint8Array
  labels: Int32Array
}

/** Generates every split of the synthetic dataset. */
export function generateSynthetic(opts: SyntheticOptions): Record<'train' | 'val' | 'test', SyntheticSplit> {
  const size = opts.size ?? 28
  const noise = opts.labelNoise ?? 0.04
  const out = {} as Record<'train' | 'val' | 'test', SyntheticSplit>
  const splits = ['train', 'val', 'test'] as const
  splits.forEach((split, si) => {
    const n = opts.counts[split]
    // Split seeds differ per split and per variant so no image repeats across them.
    const rng = new Rng(hashSeed(opts.seed, si, opts.variant === 'shifted' ? 7919 : 0))
    const images = new Uint8Array(n * size * size)
    const labels = new Int32Array(n)
    const canvas = new Float32Array(size * size)
    for (let i = 0; i < n; i++) {
      // Balanced classes in a seeded order (a shuffled cycle), then label noise.
      const trueClass = i % SYNTHETIC_CLASSES.length
      drawChest(canvas, size, trueClass, opts.variant, rng)
      toUint8(canvas, images.subarray(i * size * size, (i + 1) * size * size))
      let label = trueClass
      if (rng.next() < noise) label = (trueClass + 1 + rng.int(SYNTHETIC_CLASSES.length - 1)) % SYNTHETIC_CLASSES.length
      labels[i] = label
    }
    shuffleInPlace(images, labels, size * size, rng)
    out[split] = { images, labels }
  })
  return out
}

function hashSeed(...parts: number[]): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    h ^= p >>> 0
    h = Math.imul(h, 0x01000193) >>> 0
    h ^= h >>> 13
  }
  return h >>> 0
}

function shuffleInPlace(images: Uint8Array, labels: Int32Array, stride: number, rng: Rng): void {
  const tmp = new Uint8Array(stride)
  for (let i = labels.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    if (j === i) continue
    const a = images.subarray(i * stride, (i + 1) * stride)
    const b = images.subarray(j * stride, (j + 1) * stride)
    tmp.set(a)
    a.set(b)
    b.set(tmp)
    const l = labels[i]
    labels[i] = labels[j]
    labels[j] = l
  }
}

function toUint8(src: Float32Array, dst: Uint8Array): void {
  for (let k = 0; k < src.length; k++) {
    const v = Math.round(src[k] * 255)
    dst[k] = v < 0 ? 0 : v > 255 ? 255 : v
  }
}

/** Smooth step of an elliptical region: 1 inside, 0 outside, soft edge of `edge` (normalised units). */
function ellipse(x: number, y: number, cx: number, cy: number, rx: number, ry: number, edge: number): number {
  const d = Math.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
  return 1 / (1 + Math.exp((d - 1) / edge))
}

/** Draws one chest with the given finding into `c` (values in [0, 1]). */
function drawChest(c: Float32Array, size: number, cls: number, variant: 'source' | 'shifted', rng: Rng): void {
  // Pose and body habitus.
  const cx = 0.5 + rng.uniform(-0.04, 0.04)
  const cy = 0.5 + rng.uniform(-0.04, 0.04)
  const scale = rng.uniform(0.88, 1.08)
  const tilt = rng.uniform(-0.12, 0.12)
  const exposure = rng.uniform(0.85, 1.15)
  const ribPhase = rng.uniform(0, Math.PI * 2)
  const ribFreq = rng.uniform(16, 20)
  // Lungs: left and right fields.
  const lungs = [-1, 1].map((side) => ({
    cx: cx + side * 0.17 * scale,
    cy: cy + 0.02,
    rx: rng.uniform(0.12, 0.15) * scale,
    ry: rng.uniform(0.28, 0.33) * scale
  }))
  // The finding.
  const side = rng.int(2)
  const lung = lungs[side]
  const finding = { x: 0, y: 0, r: 0, amp: 0, level: 0, blobs: [] as { x: number; y: number; r: number }[] }
  if (cls === 1) {
    finding.x = lung.cx + rng.uniform(-0.5, 0.5) * lung.rx
    finding.y = lung.cy + rng.uniform(-0.55, 0.55) * lung.ry
    finding.r = rng.uniform(0.035, 0.07)
    finding.amp = rng.uniform(0.18, 0.45)
  } else if (cls === 2) {
    const bx = lung.cx + rng.uniform(-0.3, 0.3) * lung.rx
    const by = lung.cy + rng.uniform(0.0, 0.5) * lung.ry
    for (let k = 0; k < 4; k++)
      finding.blobs.push({
        x: bx + rng.uniform(-0.06, 0.06),
        y: by + rng.uniform(-0.08, 0.08),
        r: rng.uniform(0.05, 0.09)
      })
    finding.amp = rng.uniform(0.12, 0.3)
  } else if (cls === 3) {
    finding.level = lung.cy + lung.ry * rng.uniform(0.15, 0.6)
    finding.amp = rng.uniform(0.25, 0.5)
  }
  const shifted = variant === 'shifted'
  const noiseSigma = shifted ? 0.07 : 0.035
  const gridPhase = rng.uniform(0, Math.PI * 2)
  const cosT = Math.cos(tilt)
  const sinT = Math.sin(tilt)
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Rotate the sampling point around the chest centre.
      const ux = (px + 0.5) / size - cx
      const uy = (py + 0.5) / size - cy
      const x = cx + cosT * ux - sinT * uy
      const y = cy + sinT * ux + cosT * uy
      const body = ellipse(x, y, cx, cy + 0.04, 0.42 * scale, 0.5 * scale, 0.05)
      let v = 0.08 + 0.55 * body
      let inLung = 0
      for (const l of lungs) inLung = Math.max(inLung, ellipse(x, y, l.cx, l.cy, l.rx, l.ry, 0.08))
      v -= 0.38 * inLung
      // Ribs: faint periodic arcs inside the chest.
      v += 0.06 * inLung * Math.max(0, Math.sin(ribFreq * (y + 0.25 * (x - cx) ** 2) + ribPhase))
      // Mediastinum / heart shadow.
      v += 0.12 * ellipse(x, y, cx + 0.03, cy + 0.12, 0.09 * scale, 0.14 * scale, 0.1)
      // Finding.
      const lungHere = ellipse(x, y, lung.cx, lung.cy, lung.rx, lung.ry, 0.08)
      if (cls === 1) {
        const d2 = ((x - finding.x) ** 2 + (y - finding.y) ** 2) / (finding.r * finding.r)
        v += finding.amp * Math.exp(-d2) * lungHere
      } else if (cls === 2) {
        let patch = 0
        for (const b of finding.blobs)
          patch = Math.max(patch, Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r)))
        v += finding.amp * patch * lungHere
      } else if (cls === 3) {
        // Meniscus: the fluid line curves up towards the lateral wall.
        const lateral = Math.abs(x - lung.cx) / lung.rx
        const line = finding.level - 0.06 * lateral * lateral
        v += (finding.amp * lungHere) / (1 + Math.exp(-(y - line) / 0.015))
      }
      v *= exposure
      if (shifted) {
        // Another scanner: tone curve, vignetting, anti-scatter grid lines.
        v = Math.pow(Math.max(v, 0), 0.7) * 0.85 + 0.08
        const r2 = (ux * ux + uy * uy) * 2.2
        v *= 1 - 0.35 * r2
        v += 0.05 * Math.sin(px * 2.6 + gridPhase)
      }
      v += noiseSigma * rng.normal()
      c[py * size + px] = v
    }
  }
  if (shifted) boxBlur3(c, size)
}

/** A light 3×3 blur (the shifted scanner's softer detector). */
function boxBlur3(c: Float32Array, size: number): void {
  const src = Float32Array.from(c)
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let s = 0
      let w = 0
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy
          const xx = x + dx
          if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue
          const k = dx === 0 && dy === 0 ? 2 : 1
          s += k * src[yy * size + xx]
          w += k
        }
      c[y * size + x] = s / w
    }
}
