/**
 * The data benchmark: builds a 20,000-image 224 × 224 RGB dataset cache
 * (≈ 3 GB), reads one epoch of shuffled training batches from it and reports
 * throughput and the process's peak resident memory.
 *
 * source 'files' (default) writes small generated PNG files (32 × 32, four
 * classes) and imports them through importDataset (decode, resize to 224,
 * cache); 'synthetic' writes generated pixels straight into the cache layout
 * (reader only). Each batch is also turned into a normalised float tensor.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { CacheWriter } from './cache'
import { importDataset } from './import'
import { DatasetReader, toTensor } from './reader'
import { Rng } from './rng'

/** Benchmark settings. */
export interface BenchDataOptions {
  /** Images to generate (default 20,000). */
  images?: number
  /** Cache side in pixels (default 224). */
  size?: number
  /** Images per training batch (default 128). */
  batchSize?: number
  /** 'files' = generate PNGs and import them (default); 'synthetic' = write the cache directly. */
  source?: 'files' | 'synthetic'
  /** Working folder (default: a new temporary folder, removed afterwards). */
  dir?: string
  onProgress?: (message: string) => void
}

/** Benchmark results. */
export interface BenchDataResult {
  source: 'files' | 'synthetic'
  images: number
  size: number
  /** Bytes of image cache written. */
  cacheBytes: number
  /** Seconds to build the cache (import or direct write). */
  buildSeconds: number
  buildImagesPerSecond: number
  /** Seconds to read one shuffled epoch (batches read and turned into tensors). */
  epochSeconds: number
  epochImagesPerSecond: number
  batches: number
  /** Peak resident set size of the whole process, in MiB (process.resourceUsage().maxRSS). */
  peakRssMiB: number
  /** tfjs backend that built the tensors. */
  backend: string
}

const CLASSES = 4

async function writePngFiles(dir: string, n: number): Promise<void> {
  const rng = new Rng(1)
  const pool: Buffer[][] = []
  for (let c = 0; c < CLASSES; c++) {
    pool.push([])
    for (let v = 0; v < 8; v++) {
      const px = Buffer.alloc(32 * 32 * 3)
      for (let i = 0; i < px.length; i++) px[i] = (c * 60 + rng.int(64) + (i % 96)) & 255
      pool[c].push(
        await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
          .png()
          .toBuffer()
      )
    }
    await mkdir(join(dir, `class${c}`), { recursive: true })
  }
  for (let start = 0; start < n; start += 256) {
    const jobs: Promise<void>[] = []
    for (let i = start; i < Math.min(n, start + 256); i++)
      jobs.push(writeFile(join(dir, `class${i % CLASSES}`, `img${i}.png`), pool[i % CLASSES][i % 8]))
    await Promise.all(jobs)
  }
}

async function writeSynthetic(out: string, n: number, size: number): Promise<void> {
  const w = await CacheWriter.create(out, { task: 'single', numLabels: CLASSES, size, channels: 3 })
  const img = new Uint8Array(size * size * 3)
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < img.length; p += 997) img[p] = (i + p) & 255 // cheap per-image variation
    await w.append('train', img, i % CLASSES)
  }
  const classes = Array.from({ length: CLASSES }, (_, c) => `class${c}`)
  const per = Object.fromEntries(classes.map((c, k) => [c, Math.floor(n / CLASSES) + (k < n % CLASSES ? 1 : 0)]))
  await w.finish(
    {
      cacheVersion: 1,
      name: 'bench',
      format: 'synthetic',
      task: 'single',
      classes,
      size: [size, size],
      channels: 3,
      counts: { train: n, val: 0, test: 0 },
      perClass: { train: per, val: {}, test: {} },
      splitSource: 'stratified',
      splitSeed: 0
    },
    classes
  )
}

/** Runs the data benchmark; see the module comment for what is measured. */
export async function benchData(o: BenchDataOptions = {}): Promise<BenchDataResult> {
  const n = o.images ?? 20_000
  const size = o.size ?? 224
  const batchSize = o.batchSize ?? 128
  const source = o.source ?? 'files'
  const say = o.onProgress ?? (() => undefined)
  const work = o.dir ?? (await mkdtemp(join(tmpdir(), 'ff-bench-data-')))
  const cache = join(work, 'cache')
  try {
    let t0 = performance.now()
    if (source === 'files') {
      say(`writing ${n} PNG files`)
      await writePngFiles(join(work, 'files'), n)
      t0 = performance.now()
      say('importing')
      await importDataset(
        { input: join(work, 'files'), format: 'folder', size, channels: 3, split: { train: 1, val: 0, test: 0 } },
        { outDir: cache }
      )
    } else {
      say(`writing ${n} images into the cache`)
      await writeSynthetic(cache, n, size)
    }
    const buildSeconds = (performance.now() - t0) / 1000
    await tf.ready()
    const reader = await DatasetReader.open(cache)
    say('reading one epoch')
    const t1 = performance.now()
    let batches = 0
    let seen = 0
    try {
      for await (const b of reader.batches('train', { batchSize, shuffle: true, seed: 1 })) {
        const x = toTensor(b, reader.meta)
        x.dispose()
        batches++
        seen += b.n
      }
    } finally {
      await reader.close()
    }
    const epochSeconds = (performance.now() - t1) / 1000
    if (seen !== reader.count('train')) throw new Error(`epoch read ${seen} of ${reader.count('train')} images`)
    return {
      source,
      images: reader.count('train'),
      size,
      cacheBytes: reader.count('train') * reader.imageBytes,
      buildSeconds,
      buildImagesPerSecond: n / buildSeconds,
      epochSeconds,
      epochImagesPerSecond: seen / epochSeconds,
      batches,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      backend: tf.getBackend()
    }
  } finally {
    if (!o.dir) await rm(work, { recursive: true, force: true })
  }
}
