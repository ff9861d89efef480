/**
 * Writes the embedded default dataset (synthetic.ts) into a dataset cache folder through the
 * atomic cache writer, exactly like an import: the folder appears only once complete.
 */
import { CacheWriter } from '../data/cache'
import type { DatasetMeta, SplitName } from '../data/types'
import { generateSynthetic, SYNTHETIC_CLASSES, type SyntheticOptions } from './synthetic'

/** Writes one variant of the synthetic dataset to `outDir`; returns its meta (as in meta.json). */
export async function writeSyntheticDataset(
  outDir: string,
  name: string,
  opts: SyntheticOptions
): Promise<DatasetMeta> {
  const size = opts.size ?? 28
  const splits = generateSynthetic(opts)
  const writer = await CacheWriter.create(outDir, {
    task: 'single',
    numLabels: SYNTHETIC_CLASSES.length,
    size,
    channels: 1
  })
  const classes = [...SYNTHETIC_CLASSES]
  const perClass = {} as Record<SplitName, Record<string, number>>
  try {
    for (const split of ['train', 'val', 'test'] as const) {
      const { images, labels } = splits[split]
      perClass[split] = Object.fromEntries(classes.map((c) => [c, 0]))
      for (let i = 0; i < labels.length; i++) {
        await writer.append(split, images.subarray(i * size * size, (i + 1) * size * size), labels[i])
        perClass[split][classes[labels[i]]]++
      }
    }
    return await writer.finish(
      {
        cacheVersion: 1,
        name,
        format: 'synthetic',
        task: 'single',
        classes,
        size: [size, size],
        channels: 1,
        counts: writer.counts(),
        perClass,
        splitSource: 'dataset'
      },
      classes
    )
  } catch (e) {
    await writer.abort()
    throw e
  }
}
