/** Tiny on-disk datasets and members for engine tests (fusion run, model evaluation). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DatasetMeta, SplitName } from '../../../../src/main/engine/data/types'
import { getArch } from '../../../../src/main/engine/models'
import { weightsOf, writeCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import type { FuseMemberInput } from '../../../../src/main/engine/fusion/run'
import { Rng } from '../../../../src/main/engine/data/rng'

/** Image side of the tiny datasets, pixels. */
export const SIZE = 8

/** A tiny single-label dataset cache: class c images are brighter in quadrant c. */
export function writeDataset(dir: string, classes: string[], counts: Record<SplitName, number>, seed: number): void {
  mkdirSync(dir, { recursive: true })
  const rng = new Rng(seed)
  const perClass: DatasetMeta['perClass'] = { train: {}, val: {}, test: {} }
  for (const split of ['train', 'val', 'test'] as const) {
    const n = counts[split]
    const x = new Uint8Array(n * SIZE * SIZE)
    const y = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      y[i] = rng.int(classes.length)
      perClass[split][classes[y[i]]] = (perClass[split][classes[y[i]]] ?? 0) + 1
      for (let p = 0; p < SIZE * SIZE; p++) {
        const quadrant = (p % SIZE < SIZE / 2 ? 0 : 1) + (p < (SIZE * SIZE) / 2 ? 0 : 2)
        x[i * SIZE * SIZE + p] = Math.min(255, Math.floor(60 * rng.next() + (quadrant === y[i] % 4 ? 150 : 20)))
      }
    }
    writeFileSync(join(dir, `${split}.images.u8`), x)
    writeFileSync(join(dir, `${split}.labels.i32`), new Uint8Array(y.buffer))
  }
  const meta: DatasetMeta = {
    cacheVersion: 1,
    name: 'tiny',
    format: 'synthetic',
    task: 'single',
    classes,
    size: [SIZE, SIZE],
    channels: 1,
    counts,
    perClass,
    splitSource: 'dataset'
  }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta))
}

/** Six smallcnn members in two "learning rate" groups, each a seeded model plus small noise. */
export async function writeMembers(root: string, classes: string[]): Promise<FuseMemberInput[]> {
  const members: FuseMemberInput[] = []
  for (const [g, lr] of [1e-3, 1e-4].entries()) {
    const base = getArch('smallcnn').build({ inputShape: [SIZE, SIZE, 3], numClasses: classes.length, seed: 10 + g })
    const weights = weightsOf(base)
    base.dispose()
    for (const seed of [0, 1, 2]) {
      const rng = new Rng(100 * g + seed)
      const w = weights.map((x) => ({
        ...x,
        data: x.kind === 'trainable' ? x.data.map((v) => v + 0.05 * rng.normal()) : x.data
      }))
      const id = `m${g}${seed}`
      const dir = join(root, 'members', id)
      await writeCheckpoint(dir, {
        meta: {
          arch: 'smallcnn',
          archOptions: {},
          inputShape: [SIZE, SIZE, 3],
          classes,
          task: 'single',
          output: 'logits',
          normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }
        },
        weights: w
      })
      members.push({ id, dir, hparams: { lr, seed }, epochs: 5, seconds: 1.5 })
    }
  }
  return members
}
