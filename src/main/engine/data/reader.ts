/**
 * Reads a dataset cache (layout in types.ts) by image index with positioned
 * reads: one batch in memory (plus one prefetched), whatever the dataset size.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { permutation } from './rng'
import type { DatasetMeta, SplitName } from './types'

/** One batch of raw cache bytes and labels. */
export interface Batch {
  /** n × H × W × C uint8 pixels. */
  x: Uint8Array
  /** Class index per image (single-label) or n × L values 1 / 0 / NaN (multi-label). */
  y: Int32Array | Float32Array
  /** Images in this batch. */
  n: number
  /** Their indices in the split. */
  indices: Uint32Array
}

/** Options of an epoch of batches. */
export interface BatchOptions {
  /** Images per batch (≥ 1). */
  batchSize: number
  /** Shuffle the order each epoch with `seed` (training); false keeps file order (evaluation). */
  shuffle?: boolean
  /** Seed of the shuffle. */
  seed?: number
  /** Drop a last incomplete batch. */
  dropLast?: boolean
}

/** Reader of one cached dataset; close() when done. */
export class DatasetReader {
  private readonly handles = new Map<SplitName, FileHandle>()
  private readonly labelCache = new Map<SplitName, Int32Array | Float32Array>()

  private constructor(
    /** The cache folder. */
    readonly dir: string,
    readonly meta: DatasetMeta
  ) {}

  /** Opens the cache folder (reads meta.json only). */
  static async open(dir: string): Promise<DatasetReader> {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as DatasetMeta
    if (meta.cacheVersion !== 1) throw new Error(`${dir}: unsupported cache version ${String(meta.cacheVersion)}`)
    return new DatasetReader(dir, meta)
  }

  /** Bytes per image: H × W × C. */
  get imageBytes(): number {
    return this.meta.size[0] * this.meta.size[1] * this.meta.channels
  }

  /** Labels per image: 1 (single-label) or L (multi-label). */
  get labelWidth(): number {
    return this.meta.task === 'single' ? 1 : this.meta.classes.length
  }

  /** Number of images in a split. */
  count(split: SplitName): number {
    return this.meta.counts[split]
  }

  private async handle(split: SplitName): Promise<FileHandle> {
    let h = this.handles.get(split)
    if (!h) {
      h = await open(join(this.dir, `${split}.images.u8`), 'r')
      this.handles.set(split, h)
    }
    return h
  }

  /** All labels of a split (4 bytes per label: small next to the images). */
  async labels(split: SplitName): Promise<Int32Array | Float32Array> {
    let l = this.labelCache.get(split)
    if (!l) {
      const single = this.meta.task === 'single'
      const buf = await readFile(join(this.dir, `${split}.labels.${single ? 'i32' : 'f32'}`))
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)
      l = single ? new Int32Array(ab) : new Float32Array(ab)
      this.labelCache.set(split, l)
    }
    return l
  }

  /** Reads the images at `indices` (in that order) into one buffer; runs of consecutive indices are read at once. */
  async readImages(split: SplitName, indices: ArrayLike<number>, out?: Uint8Array): Promise<Uint8Array> {
    const B = this.imageBytes
    const n = indices.length
    const buf = out ?? new Uint8Array(n * B)
    const fh = await this.handle(split)
    const reads: Promise<unknown>[] = []
    for (let k = 0; k < n;) {
      let run = 1
      while (k + run < n && indices[k + run] === indices[k] + run) run++
      const idx = indices[k]
      if (idx < 0 || idx >= this.count(split))
        throw new Error(`image index ${idx} out of range for ${split} (${this.count(split)} images)`)
      reads.push(readFully(fh, buf, k * B, run * B, idx * B))
      k += run
    }
    await Promise.all(reads)
    return buf
  }

  /** One epoch of batches; at most two batches (current and the prefetched next) are in memory. */
  async *batches(split: SplitName, o: BatchOptions): AsyncGenerator<Batch> {
    const total = this.count(split)
    const order = o.shuffle ? permutation(total, o.seed ?? 0) : Uint32Array.from({ length: total }, (_, i) => i)
    const labels = await this.labels(split)
    const W = this.labelWidth
    const load = async (start: number): Promise<Batch> => {
      // Sorted inside a batch so neighbouring images are read together; the batch's membership stays random.
      const indices = order.slice(start, Math.min(total, start + o.batchSize)).sort()
      const y = this.meta.task === 'single' ? new Int32Array(indices.length) : new Float32Array(indices.length * W)
      indices.forEach((idx, k) => y.set(labels.subarray(idx * W, idx * W + W), k * W))
      return { x: await this.readImages(split, indices), y, n: indices.length, indices }
    }
    const last = o.dropLast ? total - (total % o.batchSize) : total
    let next = last > 0 ? load(0) : undefined
    for (let start = 0; start < last && next; start += o.batchSize) {
      const current = await next
      next = start + o.batchSize < last ? load(start + o.batchSize) : undefined
      yield current
    }
  }

  /** Closes the open image files. */
  async close(): Promise<void> {
    for (const h of this.handles.values()) await h.close()
    this.handles.clear()
  }
}

async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number
): Promise<void> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, offset + done, length - done, position + done)
    if (bytesRead === 0) throw new Error(`cache file ended early at byte ${position + done}`)
    done += bytesRead
  }
}

/** Pixel normalisation after x / 255: (x − mean) / std (METHOD.md: mean 0.5, std 0.25). */
export interface Normalisation {
  /** Per-channel mean or one value for all channels, in [0, 1]. */
  mean: number | number[]
  /** Per-channel standard deviation or one value, > 0. */
  std: number | number[]
}

/** The default normalisation of METHOD.md. */
export const DEFAULT_NORMALISATION: Normalisation = { mean: 0.5, std: 0.25 }

/**
 * uint8 pixels to float32 through a per-channel lookup table of (v / 255 − mean) / std:
 * one pass in JS, because broadcasting element-wise ops are slow on the cpu backend.
 */
export function pixelsToFloat(x: Uint8Array, channels: number, n: Normalisation = { mean: 0, std: 1 }): Float32Array {
  const pick = (v: number | number[], c: number): number => (typeof v === 'number' ? v : v.length === 1 ? v[0] : v[c])
  const lut = new Float32Array(256 * channels)
  for (let c = 0; c < channels; c++) {
    const mean = pick(n.mean, c)
    const std = pick(n.std, c)
    if (!(std > 0)) throw new Error(`normalisation std ${std} for channel ${c}: must be > 0`)
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean) / std
  }
  if (channels !== 1 && channels !== 3) throw new Error(`channels ${channels}: expected 1 or 3`)
  const out = new Float32Array(x.length)
  if (channels === 1) for (let i = 0; i < x.length; i++) out[i] = lut[x[i]]
  else
    for (let i = 0; i < x.length; i += 3) {
      out[i] = lut[x[i]]
      out[i + 1] = lut[256 + x[i + 1]]
      out[i + 2] = lut[512 + x[i + 2]]
    }
  return out
}

/** Batch pixels as a float32 N × H × W × C tensor in [0, 1] (x / 255), e.g. before augmentation. */
export function toUnitTensor(batch: Batch, meta: Pick<DatasetMeta, 'size' | 'channels'>): tf.Tensor4D {
  return tf.tensor4d(pixelsToFloat(batch.x, meta.channels), [batch.n, meta.size[0], meta.size[1], meta.channels])
}

/** (x − mean) / std on a [0, 1] tensor (after augmentation). */
export function normalise(x01: tf.Tensor4D, n: Normalisation = DEFAULT_NORMALISATION): tf.Tensor4D {
  return tf.tidy(() =>
    x01.sub(tf.tensor1d(([] as number[]).concat(n.mean))).div(tf.tensor1d(([] as number[]).concat(n.std)))
  )
}

/** Batch pixels ready for a model (no augmentation): x / 255, then (x − mean) / std. */
export function toTensor(
  batch: Batch,
  meta: Pick<DatasetMeta, 'size' | 'channels'>,
  n: Normalisation = DEFAULT_NORMALISATION
): tf.Tensor4D {
  return tf.tensor4d(pixelsToFloat(batch.x, meta.channels, n), [batch.n, meta.size[0], meta.size[1], meta.channels])
}

/** Batch labels: int32 class indices (N) or float32 N × L with NaN for missing. */
export function labelTensor(batch: Batch, meta: Pick<DatasetMeta, 'task' | 'classes'>): tf.Tensor {
  return meta.task === 'single'
    ? tf.tensor1d(batch.y as Int32Array, 'int32')
    : tf.tensor2d(batch.y as Float32Array, [batch.n, meta.classes.length], 'float32')
}
