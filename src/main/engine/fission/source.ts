/**
 * What the trainer reads: a {@link BatchSource} yields normalised float batches of one pass over
 * a split. Shuffle order and augmentation are functions of (seed, epoch) only, so a resumed
 * training sees exactly the batches an uninterrupted one would.
 */
import * as tf from '@tensorflow/tfjs'
import { augmentArray, augmentBatch, type AugmentPreset } from '../data/augment'
import {
  DEFAULT_NORMALISATION,
  normalise,
  pixelsToFloat,
  toUnitTensor,
  type Batch as RawBatch,
  type DatasetReader,
  type Normalisation
} from '../data/reader'
import { permutation } from '../data/rng'
import type { SplitName } from '../data/types'

/** One batch. The consumer disposes `x`. */
export interface Batch {
  /** Images (n, H, W, C), float32, normalised as the model expects. */
  x: tf.Tensor4D
  /** single-label: class index per image (n); multi-label: n × L of 1 / 0 / NaN (blank) / −1 (uncertain). */
  y: Int32Array | Float32Array
  /** Images in this batch. */
  n: number
  /** Seconds spent preparing it on this thread: tensor creation / normalisation (`data`) and augmentation; `augmentCpu`: CPU seconds of the augmentation. */
  seconds?: { data: number; augment: number; augmentCpu?: number }
}

/** Options of one pass. */
export interface PassOptions {
  /** Images per batch (the last batch may be smaller). */
  batchSize: number
  /** Random order (training) or dataset order (evaluation). */
  shuffle: boolean
  /** The member seed. */
  seed: number
  /** 1-based epoch; with `seed` it fixes the order and the augmentation draws. */
  epoch: number
}

/** A split the trainer can iterate. */
export interface BatchSource {
  /** Images in the split. */
  count: number
  /** Batches of one pass. */
  batches(options: PassOptions): AsyncIterable<Batch>
}

/** A 32-bit seed mixed from integers (FNV-1a over their bytes); distinct inputs give unrelated seeds. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5
  for (const p of parts) {
    let v = p >>> 0
    for (let b = 0; b < 4; b++) {
      h = Math.imul(h ^ (v & 0xff), 0x01000193) >>> 0
      v >>>= 8
    }
  }
  return h
}

/** How raw uint8 batches become model input. */
export interface PrepareOptions {
  /** Channels the model takes; gray images are repeated to 3. Default: the images' own. */
  channels?: 1 | 3
  /** Default: METHOD.md's (x/255 − 0.5)/0.25. */
  normalisation?: Normalisation
  /** Training-time augmentation preset (default none; ignored when the pass is not shuffled). */
  augment?: AugmentPreset
}

/**
 * (x − mean) / std in place, per channel, with float32 rounding after the subtraction and the
 * division: the values of data/reader.ts's normalise (two float32 tensor ops) on the typed array.
 */
export function normaliseArray(data: Float32Array, channels: number, n: Normalisation): Float32Array {
  const f32 = Math.fround
  const pick = (v: number | number[], c: number): number =>
    f32(typeof v === 'number' ? v : v.length === 1 ? v[0] : v[c])
  for (let c = 0; c < channels; c++) {
    const mean = pick(n.mean, c)
    const std = pick(n.std, c)
    for (let i = c; i < data.length; i += channels) data[i] = f32(data[i] - mean) / std
  }
  return data
}

/** Raw batches of one pass, e.g. from the dataset reader. */
type RawPass = (batchSize: number, order: { shuffle: boolean; seed: number }) => AsyncIterable<RawBatch>

function preparedSource(count: number, shape: [number, number, number], raw: RawPass, o: PrepareOptions): BatchSource {
  const [h, w, c] = shape
  const outC = o.channels ?? c
  if (c !== outC && c !== 1) throw new Error(`cannot turn ${c}-channel images into ${outC} channels`)
  const norm = o.normalisation ?? DEFAULT_NORMALISATION
  const perChannel = [norm.mean, norm.std].every((v) => typeof v === 'number' || v.length === 1 || v.length === c)
  return {
    count,
    async *batches({ batchSize, shuffle, seed, epoch }) {
      let b = 0
      for await (const batch of raw(batchSize, { shuffle, seed: deriveSeed(seed, epoch, 1) })) {
        const augSeed = deriveSeed(seed, epoch, 2, b++)
        let augment = 0
        let augmentCpu = 0
        const t0 = performance.now()
        if (shuffle && o.augment && o.augment !== 'none' && outC === c && perChannel) {
          // on the typed array from the pixels to the normalised batch, uploaded once (same values as the tensor path below)
          const a0 = performance.now()
          const c0 = process.cpuUsage()
          const data = augmentArray(pixelsToFloat(batch.x, c), [batch.n, h, w, c], o.augment, augSeed)
          const cu = process.cpuUsage(c0)
          augmentCpu = (cu.user + cu.system) / 1e6
          augment = (performance.now() - a0) / 1000
          const x = tf.tensor4d(normaliseArray(data, c, norm), [batch.n, h, w, c])
          yield {
            x,
            y: batch.y,
            n: batch.n,
            seconds: { data: (performance.now() - t0) / 1000 - augment, augment, augmentCpu }
          }
          continue
        }
        const x = tf.tidy(() => {
          let t = toUnitTensor(batch, { size: [h, w], channels: c as 1 | 3 })
          if (shuffle && o.augment && o.augment !== 'none') {
            const a0 = performance.now()
            const c0 = process.cpuUsage()
            t = augmentBatch(t, o.augment, augSeed)
            const cu = process.cpuUsage(c0)
            augmentCpu = (cu.user + cu.system) / 1e6
            augment = (performance.now() - a0) / 1000
          }
          if (outC !== c) t = tf.tile(t, [1, 1, 1, outC])
          return normalise(t, norm)
        })
        yield {
          x,
          y: batch.y,
          n: batch.n,
          seconds: { data: (performance.now() - t0) / 1000 - augment, augment, augmentCpu }
        }
      }
    }
  }
}

/** A split held in memory (tests, small datasets). */
export interface ArraySplit {
  /** uint8 pixels, N × H × W × C row-major. */
  images: Uint8Array
  /** [N, H, W, C] of `images`. */
  shape: [number, number, number, number]
  /** Class index per image (Int32Array, N) or N × L multi-label values (Float32Array). */
  labels: Int32Array | Float32Array
}

/** A {@link BatchSource} over arrays in memory. */
export function arraySource(split: ArraySplit, o: PrepareOptions = {}): BatchSource {
  const [count, h, w, c] = split.shape
  const plane = h * w * c
  if (split.images.length !== count * plane)
    throw new Error(`arraySource: ${split.images.length} pixels for shape [${split.shape}]`)
  const width = split.labels.length / count
  const raw: RawPass = async function* (batchSize, { shuffle, seed }) {
    const order = shuffle ? permutation(count, seed) : Uint32Array.from({ length: count }, (_, i) => i)
    for (let start = 0; start < count; start += batchSize) {
      const indices = order.slice(start, start + batchSize)
      const x = new Uint8Array(indices.length * plane)
      const y =
        split.labels instanceof Int32Array
          ? new Int32Array(indices.length * width)
          : new Float32Array(indices.length * width)
      indices.forEach((i, k) => {
        x.set(split.images.subarray(i * plane, (i + 1) * plane), k * plane)
        y.set(split.labels.subarray(i * width, (i + 1) * width), k * width)
      })
      yield { x, y, n: indices.length, indices }
    }
  }
  return preparedSource(count, [h, w, c], raw, o)
}

/** A {@link BatchSource} over one split of a dataset cache (see data/reader.ts). */
export function readerSource(reader: DatasetReader, split: SplitName, o: PrepareOptions = {}): BatchSource {
  const { size, channels } = reader.meta
  const raw: RawPass = (batchSize, order) => reader.batches(split, { batchSize, ...order })
  return preparedSource(reader.count(split), [size[0], size[1], channels], raw, o)
}
