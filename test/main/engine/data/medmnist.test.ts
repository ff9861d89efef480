import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { importDataset } from '../../../../src/main/engine/data/import'
import { HAVE_SHARED_DATA, SHARED_DATA, SYSTEM_PYTHON } from '../../../fixtures/data/shared'

const work = await mkdtemp(join(tmpdir(), 'ff-medmnist-'))
afterAll(() => rm(work, { recursive: true, force: true }))

/** sha256 of each split's images and labels as numpy sees them (independent of our npz reader). */
function numpyDigests(file: string): Record<string, { images: string; labels: number[][] }> {
  const py = `
import hashlib, json, sys, numpy as np
d = np.load(sys.argv[1]); out = {}
for s in ['train', 'val', 'test']:
    im = np.ascontiguousarray(d[s + '_images'])
    lb = d[s + '_labels'].reshape(len(im), -1)
    counts = [[int(c), int((lb[:, 0] == c).sum())] for c in np.unique(lb[:, 0])]
    out[s] = {'images': hashlib.sha256(im.tobytes()).hexdigest(), 'labels': counts}
print(json.dumps(out))`
  return JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', py, file], { encoding: 'utf8' }))
}

describe.skipIf(!HAVE_SHARED_DATA)('MedMNIST .npz import (real archives)', () => {
  it.each([
    ['retinamnist.npz', { train: 1080, val: 120, test: 400 }, 5, 3],
    ['pneumoniamnist.npz', { train: 4708, val: 524, test: 624 }, 2, 1]
  ] as const)(
    '%s imports with its own split sizes, classes and byte-exact pixels',
    async (file, counts, classes, channels) => {
      const input = join(SHARED_DATA, 'medmnist', file)
      const outDir = join(work, file)
      const t0 = performance.now()
      const r = await importDataset({ input }, { outDir })
      const seconds = (performance.now() - t0) / 1000
      expect(r.failed).toBe(0)
      expect(r.meta.format).toBe('npz')
      expect(r.meta.counts).toEqual(counts)
      expect(r.imported).toBe(counts.train + counts.val + counts.test)
      expect(r.meta.classes).toHaveLength(classes)
      expect(r.meta.channels).toBe(channels)
      expect(r.meta.size).toEqual([28, 28])
      expect(r.meta.splitSource).toBe('dataset')
      const ref = numpyDigests(input)
      for (const s of ['train', 'val', 'test'] as const) {
        const bytes = await readFile(join(outDir, `${s}.images.u8`))
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(ref[s].images)
        expect(
          Object.entries(r.meta.perClass[s])
            .map(([c, n]) => [Number(c), n])
            .filter(([, n]) => n > 0)
        ).toEqual(ref[s].labels)
        const labels = new Int32Array((await readFile(join(outDir, `${s}.labels.i32`))).buffer.slice(0))
        expect(labels.length).toBe(counts[s])
      }
      // The bar: the 4,708-image PneumoniaMNIST train split (and here the whole archive) in under 10 s.
      expect(seconds).toBeLessThan(10)
      console.log(`${file}: ${r.imported} images in ${seconds.toFixed(2)} s`)
    }
  )

  it('known per-class counts of the README (RetinaMNIST train 486/128/206/194/66, PneumoniaMNIST train 1214/3494)', async () => {
    const retina = await importDataset(
      { input: join(SHARED_DATA, 'medmnist/retinamnist.npz'), size: 32 },
      { outDir: join(work, 'r2') }
    )
    expect(Object.values(retina.meta.perClass.train)).toEqual([486, 128, 206, 194, 66])
    expect(retina.meta.size).toEqual([32, 32])
    expect((await readFile(join(work, 'r2', 'train.images.u8'))).length).toBe(1080 * 32 * 32 * 3)
    const pneu = await importDataset(
      { input: join(SHARED_DATA, 'medmnist/pneumoniamnist.npz'), channels: 3 },
      { outDir: join(work, 'p2') }
    )
    expect(Object.values(pneu.meta.perClass.train)).toEqual([1214, 3494])
    expect(pneu.meta.channels).toBe(3)
    const bytes = await readFile(join(work, 'p2', 'train.images.u8'))
    expect(bytes.length).toBe(4708 * 28 * 28 * 3)
    // gray → RGB repeats the value in all three channels
    for (let p = 0; p < 3000; p += 3) expect(bytes[p]).toBe(bytes[p + 1])
  })
})
