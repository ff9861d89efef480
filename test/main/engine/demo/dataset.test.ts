import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeSyntheticDataset } from '../../../../src/main/engine/demo/dataset'
import { plannedEpochs, DEFAULT_PRESET, QUICK_PRESET } from '../../../../src/main/engine/demo/presets'
import { generateSynthetic } from '../../../../src/main/engine/demo/synthetic'

describe('writeSyntheticDataset', () => {
  it('writes the generated images and labels byte for byte into a dataset cache with its meta', async () => {
    const opts = { counts: { train: 12, val: 8, test: 4 }, size: 16, seed: 3, variant: 'shifted' as const }
    const out = join(mkdtempSync(join(tmpdir(), 'ff-synth-')), 'ds')
    const meta = await writeSyntheticDataset(out, 'twin', opts)
    const ref = generateSynthetic(opts)
    for (const split of ['train', 'val', 'test'] as const) {
      expect(new Uint8Array(readFileSync(join(out, `${split}.images.u8`)))).toEqual(ref[split].images)
      expect(new Int32Array(new Uint8Array(readFileSync(join(out, `${split}.labels.i32`))).buffer)).toEqual(
        ref[split].labels
      )
      const perClass = [0, 1, 2, 3].map((k) => ref[split].labels.filter((l) => l === k).length)
      expect(Object.values(meta.perClass[split])).toEqual(perClass)
    }
    expect(meta).toMatchObject({
      name: 'twin',
      format: 'synthetic',
      task: 'single',
      size: [16, 16],
      channels: 1,
      counts: opts.counts
    })
    expect(JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'))).toEqual(meta)
  })
})

describe('demo presets', () => {
  it('keep FGG at the paper’s ~22% of the grid’s epochs (536 / 2,400)', () => {
    expect(
      plannedEpochs({
        lrs: [1, 2, 3, 4, 5, 6, 7, 8],
        seeds: [0, 1],
        augs: ['minimal', 'medium', 'heavy'],
        epochs: 50,
        fggEpochs: 17
      })
    ).toEqual({ grid: 2400, fgg: 536, ratio: 536 / 2400 })
    for (const p of [QUICK_PRESET, DEFAULT_PRESET]) expect(plannedEpochs(p).ratio).toBeCloseTo(536 / 2400, 1)
  })
})
