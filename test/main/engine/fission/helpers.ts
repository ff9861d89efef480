/**
 * Test helpers: a small synthetic dataset written in the cache layout of data/types.ts, and a
 * temporary folder. Class c of single-label data is a brighter band at row band c plus seeded noise.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Rng } from '../../../../src/main/engine/data/rng'
import type { DatasetMeta, SplitName } from '../../../../src/main/engine/data/types'

/** A fresh temporary folder. */
export function tempDir(prefix = 'ff-fission-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Options of {@link writeSyntheticCache}. */
export interface SyntheticOptions {
  size?: number
  channels?: 1 | 3
  classes?: number
  counts?: Record<SplitName, number>
  multilabel?: boolean
  seed?: number
}

/** Writes a synthetic dataset cache into a new folder and returns it. */
export function writeSyntheticCache(o: SyntheticOptions = {}): string {
  const size = o.size ?? 12
  const ch = o.channels ?? 3
  const k = o.classes ?? 3
  const counts = o.counts ?? { train: 48, val: 24, test: 24 }
  const rng = new Rng(o.seed ?? 7)
  const dir = tempDir('ff-cache-')
  mkdirSync(dir, { recursive: true })
  const perClass: DatasetMeta['perClass'] = { train: {}, val: {}, test: {} }
  for (const split of ['train', 'val', 'test'] as const) {
    const n = counts[split]
    const images = new Uint8Array(n * size * size * ch)
    const labels = o.multilabel ? new Float32Array(n * k) : new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const c = i % k
      if (o.multilabel) {
        for (let l = 0; l < k; l++) labels[i * k + l] = l === c ? 1 : (i + l) % 5 === 0 ? NaN : 0
      } else labels[i] = c
      const band = Math.floor((c * size) / k)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++)
          for (let q = 0; q < ch; q++) {
            const on = y >= band && y < band + Math.ceil(size / k)
            images[((i * size + y) * size + x) * ch + q] = Math.min(255, (on ? 170 : 40) + rng.int(60))
          }
      perClass[split][`c${c}`] = (perClass[split][`c${c}`] ?? 0) + 1
    }
    writeFileSync(join(dir, `${split}.images.u8`), images)
    writeFileSync(join(dir, `${split}.labels.${o.multilabel ? 'f32' : 'i32'}`), new Uint8Array(labels.buffer))
  }
  const meta: DatasetMeta = {
    cacheVersion: 1,
    name: 'synthetic',
    format: 'synthetic',
    task: o.multilabel ? 'multilabel' : 'single',
    classes: Array.from({ length: k }, (_, c) => `c${c}`),
    size: [size, size],
    channels: ch,
    counts,
    perClass,
    splitSource: 'dataset'
  }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta))
  return dir
}
