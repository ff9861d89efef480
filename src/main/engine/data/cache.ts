/**
 * Writes the dataset cache (layout in types.ts) into a temporary sibling folder
 * and renames it into place only when complete, so a crash never leaves a half
 * cache that looks done.
 */
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import sharp from 'sharp'
import type { DatasetMeta, SplitName, TaskKind } from './types'
import { faultPoint, writeFailure } from '../io/atomic'

const SPLITS: SplitName[] = ['train', 'val', 'test']
const FLUSH_BYTES = 8 << 20

/** Thumbnails kept per class, and their side in pixels. */
export const THUMBS_PER_CLASS = 4
const THUMB_SIDE = 64

interface SplitFile {
  fh: FileHandle
  pending: Uint8Array[]
  pendingBytes: number
  written: number
  count: number
  labels: number[]
}

/** Streaming writer of one dataset cache. */
export class CacheWriter {
  private readonly files = new Map<SplitName, SplitFile>()
  private readonly thumbs = new Map<number, Uint8Array[]>()
  private constructor(
    /** The final cache folder. */
    readonly outDir: string,
    /** The temporary folder being written. */
    readonly tmpDir: string,
    private readonly task: TaskKind,
    private readonly numLabels: number,
    private readonly size: number,
    private readonly channels: 1 | 3
  ) {}

  /** Creates the temporary folder and opens one image file per split. */
  static async create(
    outDir: string,
    o: { task: TaskKind; numLabels: number; size: number; channels: 1 | 3 }
  ): Promise<CacheWriter> {
    const tmp = `${outDir}.partial-${process.pid}-${Date.now().toString(36)}`
    await mkdir(join(tmp, 'thumbs'), { recursive: true })
    const w = new CacheWriter(outDir, tmp, o.task, o.numLabels, o.size, o.channels)
    for (const s of SPLITS)
      w.files.set(s, {
        fh: await open(join(tmp, `${s}.images.u8`), 'w'),
        pending: [],
        pendingBytes: 0,
        written: 0,
        count: 0,
        labels: []
      })
    return w
  }

  /** Bytes per image (size × size × channels). */
  get imageBytes(): number {
    return this.size * this.size * this.channels
  }

  /** Appends one preprocessed image and its label (class index, or L values 1 / 0 / NaN). */
  async append(split: SplitName, image: Uint8Array, label: number | Float32Array): Promise<void> {
    if (image.length !== this.imageBytes)
      throw new Error(`image has ${image.length} bytes, expected ${this.imageBytes}`)
    const f = this.files.get(split)!
    if (typeof label !== 'number' && label.length !== this.numLabels)
      throw new Error(`label has ${label.length} values, expected ${this.numLabels}`)
    f.pending.push(image)
    f.pendingBytes += image.length
    f.count++
    if (typeof label === 'number') f.labels.push(label)
    else for (const v of label) f.labels.push(v)
    const positives = typeof label === 'number' ? [label] : [...label].flatMap((v, k) => (v === 1 ? [k] : []))
    for (const k of positives) {
      const list = this.thumbs.get(k) ?? []
      if (list.length < THUMBS_PER_CLASS) list.push(image.slice())
      this.thumbs.set(k, list)
    }
    if (f.pendingBytes >= FLUSH_BYTES) await this.flush(f)
  }

  /** Images appended so far per split. */
  counts(): Record<SplitName, number> {
    return {
      train: this.files.get('train')!.count,
      val: this.files.get('val')!.count,
      test: this.files.get('test')!.count
    }
  }

  private async flush(f: SplitFile): Promise<void> {
    if (f.pendingBytes === 0) return
    const buf = Buffer.concat(f.pending)
    f.pending = []
    f.pendingBytes = 0
    try {
      faultPoint('cache')
      await f.fh.write(buf, 0, buf.length, f.written)
    } catch (e) {
      throw writeFailure(e, join(this.outDir, 'images'), 'dataset cache chunk', buf.length)
    }
    f.written += buf.length
  }

  /** Flushes and syncs everything, writes labels, thumbnails and meta.json, then renames into place. */
  async finish(meta: Omit<DatasetMeta, 'thumbnails'>, classes: string[]): Promise<DatasetMeta> {
    const thumbnails: Record<string, string[]> = {}
    for (const [k, list] of [...this.thumbs.entries()].sort((a, b) => a[0] - b[0])) {
      const names: string[] = []
      for (let i = 0; i < list.length; i++) {
        const name = `${k}_${i}.png`
        const side = Math.min(THUMB_SIDE, this.size)
        await sharp(list[i], { raw: { width: this.size, height: this.size, channels: this.channels } })
          .resize(side, side)
          .png()
          .toFile(join(this.tmpDir, 'thumbs', name))
        names.push(name)
      }
      thumbnails[classes[k]] = names
    }
    for (const [s, f] of this.files) {
      await this.flush(f)
      await f.fh.sync()
      await f.fh.close()
      const labels =
        this.task === 'single'
          ? Buffer.from(Int32Array.from(f.labels).buffer)
          : Buffer.from(Float32Array.from(f.labels).buffer)
      await writeFile(join(this.tmpDir, `${s}.labels.${this.task === 'single' ? 'i32' : 'f32'}`), labels)
    }
    const full: DatasetMeta = { ...meta, thumbnails }
    await writeFile(join(this.tmpDir, 'meta.json'), JSON.stringify(full, null, 2))
    await mkdir(dirname(this.outDir), { recursive: true })
    await rm(this.outDir, { recursive: true, force: true })
    await rename(this.tmpDir, this.outDir)
    return full
  }

  /** Closes files and removes the temporary folder (cancel or failure). */
  async abort(): Promise<void> {
    for (const f of this.files.values()) await f.fh.close().catch(() => undefined)
    await rm(this.tmpDir, { recursive: true, force: true })
  }
}
