import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { importDataset } from '../../../../src/main/engine/data/import'

const FASHION = '/usr/share/datasets/fashion-mnist'
const work = await mkdtemp(join(tmpdir(), 'ff-idx-'))
afterAll(() => rm(work, { recursive: true, force: true }))

describe.skipIf(!existsSync(FASHION) && process.env.CI !== 'true')('idx import (Debian Fashion-MNIST)', () => {
  it('keeps train / t10k, carves a stratified seeded validation split from train, pixels unchanged', async () => {
    const r = await importDataset({ input: FASHION }, { outDir: join(work, 'f') })
    expect(r.meta.format).toBe('idx')
    expect(r.failed).toBe(0)
    expect(r.meta.counts.test).toBe(10_000)
    expect(r.meta.counts.train + r.meta.counts.val).toBe(60_000)
    // val share = 10 / (70 + 10) of train, 6,000 per class in Fashion-MNIST train
    expect(r.meta.counts.val).toBe(7_500)
    for (const c of r.meta.classes) expect(r.meta.perClass.val[c]).toBe(750)
    expect(r.meta.classes[9]).toBe('Ankle boot')
    expect(r.meta.splitSeed).toBe(0)
    // test images are the t10k file's bytes in order
    const raw = gunzipSync(await readFile(join(FASHION, 't10k-images-idx3-ubyte.gz')))
    const cached = await readFile(join(work, 'f', 'test.images.u8'))
    expect(Buffer.compare(cached, raw.subarray(16))).toBe(0)
  })
})
