import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { afterAll, describe, expect, it } from 'vitest'
import { importDataset } from '../../../../src/main/engine/data/import'
import { inspectSource } from '../../../../src/main/engine/data/inspect'
import { DatasetReader } from '../../../../src/main/engine/data/reader'

const work = await mkdtemp(join(tmpdir(), 'ff-size-'))
afterAll(() => rm(work, { recursive: true, force: true }))

/** A w × h RGB PNG whose pixel (x, y, c) is (x·7 + y·13 + c·29 + seed) mod 256; returns the bytes and the raw pixels. */
async function png(w: number, h: number, seed: number): Promise<{ bytes: Buffer; raw: Uint8Array }> {
  const raw = new Uint8Array(w * h * 3)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) raw[(y * w + x) * 3 + c] = (x * 7 + y * 13 + c * 29 + seed) & 255
  return {
    bytes: await sharp(raw, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
    raw
  }
}

/** A two-class folder (a/, b/) of `n` images per class, all w × h except the sizes given in `odd` (by file index). */
async function folder(
  name: string,
  w: number,
  h: number,
  n = 6,
  odd: Record<number, [number, number]> = {}
): Promise<{ root: string; raws: Map<string, Uint8Array> }> {
  const root = join(work, name)
  const raws = new Map<string, Uint8Array>()
  let k = 0
  for (const cls of ['a', 'b']) {
    await mkdir(join(root, cls), { recursive: true })
    for (let i = 0; i < n; i++, k++) {
      const [ww, hh] = odd[k] ?? [w, h]
      const img = await png(ww, hh, k)
      // zero-padded names: the folder importer lists files in name order, so file 0 is read first
      await writeFile(join(root, cls, `${String(i).padStart(2, '0')}.png`), img.bytes)
      raws.set(`${cls}/${String(i).padStart(2, '0')}.png`, img.raw)
    }
  }
  return { root, raws }
}

describe("import size: the source's own, reduced to 224 px when larger, never enlarged by default", () => {
  it('a folder of 40 px images stays 40 px, pixel for pixel; inspect says so beforehand', async () => {
    const { root, raws } = await folder('f40', 40, 40)
    expect((await inspectSource({ input: root })).defaultSize).toBe(40)
    const r = await importDataset({ input: root }, { outDir: join(work, 'c40') })
    expect(r.meta.size).toEqual([40, 40])
    expect(r.enlarged).toBe(0)
    // stored unresampled: every cached image is byte-identical to one of the sources
    const reader = await DatasetReader.open(join(work, 'c40'))
    try {
      const sources = [...raws.values()].map((v) => Buffer.from(v).toString('hex'))
      let seen = 0
      for await (const b of reader.batches('train', { batchSize: 100, shuffle: false, seed: 0 })) {
        for (let i = 0; i < b.n; i++)
          expect(sources).toContain(Buffer.from(b.x.subarray(i * 40 * 40 * 3, (i + 1) * 40 * 40 * 3)).toString('hex'))
        seen += b.n
      }
      expect(seen).toBe(r.meta.counts.train)
    } finally {
      await reader.close()
    }
  })

  it('non-square 64 × 48 images take their shorter side (48), so no axis is enlarged', async () => {
    const { root } = await folder('f64x48', 64, 48)
    expect((await inspectSource({ input: root })).defaultSize).toBe(48)
    const r = await importDataset({ input: root }, { outDir: join(work, 'c48') })
    expect(r.meta.size).toEqual([48, 48])
    expect(r.enlarged).toBe(0)
  })

  it('images larger than 224 px are reduced to 224 px', async () => {
    const { root } = await folder('f300', 300, 260, 2)
    expect((await inspectSource({ input: root })).defaultSize).toBe(224)
    const r = await importDataset({ input: root }, { outDir: join(work, 'c300') })
    expect(r.meta.size).toEqual([224, 224])
    expect(r.enlarged).toBe(0)
  })

  it('a smaller image among larger ones, or an explicit larger size, is enlarged and counted, not silently', async () => {
    const { root } = await folder('fmix', 64, 64, 4, { 5: [32, 32] })
    const r = await importDataset({ input: root }, { outDir: join(work, 'cmix') })
    expect(r.meta.size).toEqual([64, 64])
    expect(r.enlarged).toBe(1)
    const asked = await importDataset({ input: root, size: 96 }, { outDir: join(work, 'c96') })
    expect(asked.meta.size).toEqual([96, 96])
    expect(asked.enlarged).toBe(8)
  })

  it('a 64 px MedMNIST+ archive (written by NumPy) stays 64 px', async () => {
    const npz = join(work, 'mnist64.npz')
    const script = [
      'import numpy as np, sys',
      'r = np.random.default_rng(0)',
      'd = {}',
      'for s, n in (("train", 10), ("val", 4), ("test", 4)):',
      '    d[s + "_images"] = r.integers(0, 256, (n, 64, 64), dtype=np.uint8)',
      '    d[s + "_labels"] = (np.arange(n) % 2).reshape(n, 1).astype(np.uint8)',
      'np.savez(sys.argv[1], **d)'
    ].join('\n')
    execFileSync('/usr/bin/python3', ['-c', script, npz])
    expect((await inspectSource({ input: npz })).defaultSize).toBe(64)
    const r = await importDataset({ input: npz }, { outDir: join(work, 'cnpz') })
    expect(r.meta.size).toEqual([64, 64])
    expect(r.meta.counts).toEqual({ train: 10, val: 4, test: 4 })
    expect(r.enlarged).toBe(0)
  })
})
