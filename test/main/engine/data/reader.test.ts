import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CacheWriter } from '../../../../src/main/engine/data/cache'
import {
  DatasetReader,
  labelTensor,
  normalise,
  pixelsToFloat,
  toTensor,
  toUnitTensor
} from '../../../../src/main/engine/data/reader'
import type { DatasetMeta } from '../../../../src/main/engine/data/types'

const work = await mkdtemp(join(tmpdir(), 'ff-reader-'))
afterAll(() => rm(work, { recursive: true, force: true }))

/** A 4 × 4 RGB cache of 50 train images where every byte of image i is i (labels i mod 3). */
async function makeCache(dir: string): Promise<DatasetMeta> {
  const w = await CacheWriter.create(dir, { task: 'single', numLabels: 3, size: 4, channels: 3 })
  for (let i = 0; i < 50; i++) await w.append('train', new Uint8Array(48).fill(i), i % 3)
  for (let i = 0; i < 5; i++) await w.append('test', new Uint8Array(48).fill(200 + i), i % 3)
  return w.finish(
    {
      cacheVersion: 1,
      name: 't',
      format: 'synthetic',
      task: 'single',
      classes: ['a', 'b', 'c'],
      size: [4, 4],
      channels: 3,
      counts: { train: 50, val: 0, test: 5 },
      perClass: { train: {}, val: {}, test: {} },
      splitSource: 'stratified',
      splitSeed: 0
    },
    ['a', 'b', 'c']
  )
}

describe('DatasetReader', () => {
  let reader: DatasetReader
  beforeAll(async () => {
    await tf.setBackend('cpu')
    await makeCache(join(work, 'd'))
    reader = await DatasetReader.open(join(work, 'd'))
  })
  afterAll(() => reader.close())

  it('reads images by index (any order) with their own bytes', async () => {
    const x = await reader.readImages('train', [7, 8, 9, 3])
    expect([x[0], x[48], x[96], x[144], x[191]]).toEqual([7, 8, 9, 3, 3])
    expect((await reader.readImages('test', [4]))[47]).toBe(204)
    await expect(reader.readImages('train', [50])).rejects.toThrow(/out of range/)
  })

  it('an epoch visits every image once, labels stay aligned, order is seeded', async () => {
    const epoch = async (seed: number): Promise<number[]> => {
      const seen: number[] = []
      for await (const b of reader.batches('train', { batchSize: 16, shuffle: true, seed })) {
        for (let k = 0; k < b.n; k++) {
          const v = b.x[k * 48]
          expect(b.indices[k]).toBe(v)
          expect(b.y[k]).toBe(v % 3)
          seen.push(v)
        }
      }
      return seen
    }
    const a = await epoch(1)
    expect([...a].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(await epoch(1)).toEqual(a)
    expect(await epoch(2)).not.toEqual(a)
    const sizes: number[] = []
    for await (const b of reader.batches('train', { batchSize: 16, dropLast: true })) sizes.push(b.n)
    expect(sizes).toEqual([16, 16, 16])
  })

  it('toTensor gives (x / 255 − 0.5) / 0.25; unit + normalise agree; no tensor leaks', async () => {
    const before = tf.memory().numTensors
    const it = reader.batches('test', { batchSize: 5 })
    const b = (await it.next()).value!
    const t = toTensor(b, reader.meta)
    expect(t.shape).toEqual([5, 4, 4, 3])
    const v = await t.data()
    expect(v[0]).toBeCloseTo((200 / 255 - 0.5) / 0.25, 6)
    expect(v[4 * 48]).toBeCloseTo((204 / 255 - 0.5) / 0.25, 6)
    const u = toUnitTensor(b, reader.meta)
    const n = normalise(u)
    const diff = tf.tidy(() => n.sub(t).abs().max())
    expect((await diff.data())[0]).toBeLessThan(1e-6)
    const y = labelTensor(b, reader.meta)
    expect([...(await y.data())]).toEqual([0, 1, 2, 0, 1])
    tf.dispose([t, u, n, y, diff])
    expect(tf.memory().numTensors).toBe(before)
    expect(
      [...pixelsToFloat(Uint8Array.from([0, 255, 51]), 3, { mean: [0, 0.5, 0.2], std: [1, 0.5, 0.1] })].map(
        (x) => +x.toFixed(6)
      )
    ).toEqual([0, 1, 0])
  })
})
