/**
 * The import entry point: choose an importer, scan, split, preprocess and cache.
 * Bad files are reported (relative path + reason) and skipped; they never stop
 * the import. Cancellable through an AbortSignal; the cache appears only when
 * complete (cache.ts).
 */
import { basename } from 'node:path'
import { CacheWriter } from './cache'
import { preprocess, type RawImage } from './image'
import { chooseImporter } from './importers'
import type { FormatName, ImportIssue, ImportSource, ScanOptions, SourceItem, UncertainPolicy } from './importers/types'
import { DEFAULT_SPLIT, parseSplit, stratifiedGroupSplit, type SplitFractions } from './split'
import type { DatasetMeta, SplitName } from './types'
import { errorText } from '../../../shared/errors'

/** What to import and how. */
export interface ImportOptions {
  /** The file or folder the user chose (absolute path). */
  input: string
  /** A CSV manifest naming the images below `input` (absolute path). */
  csv?: string
  /** Dataset name; defaults to the input's base name. */
  name?: string
  /** Importer to use; 'auto' (default) recognises the input by content. */
  format?: FormatName | 'auto'
  /**
   * Square side in pixels after preprocessing. Default: the source's own side (the shorter side of
   * its first image when the source does not declare one), reduced to {@link MAX_DEFAULT_SIZE} when
   * larger; never enlarged by default.
   */
  size?: number
  /**
   * 'keep' (default) the source's channels, or 3 (gray repeated) for ImageNet-style backbones.
   * In a folder mixing gray and colour files, the first decoded image decides and the others
   * are converted (RGB to BT.601 luma, gray repeated).
   */
  channels?: 'keep' | 3
  /** Split when the dataset has none: "70/10/20" or fractions; default 70/10/20. */
  split?: string | SplitFractions
  /** Seed of the generated split (default 0). */
  seed?: number
  /** CheXpert uncertain (-1) policy; default 'ignore' (masked). */
  uncertain?: UncertainPolicy
  /** CSV column role overrides. */
  columns?: ScanOptions['columns']
}

/** Progress of an import. */
export interface ImportProgress {
  phase: 'scan' | 'images' | 'finish'
  /** Inputs processed so far, of `total`. */
  done: number
  total: number
}

/** Where the cache goes, and the job plumbing. */
export interface ImportHooks {
  /** The dataset cache folder to create (replaced if it exists). */
  outDir: string
  onProgress?: (p: ImportProgress) => void
  signal?: AbortSignal
}

/** The outcome: the cached dataset's meta, images imported, inputs that failed and why. */
export interface ImportResult {
  meta: DatasetMeta
  /** Images written to the cache (a multi-frame DICOM counts one per frame). */
  imported: number
  /** Inputs (files, rows, array entries) that could not be used; equals errors.length. */
  failed: number
  errors: ImportIssue[]
  /** Images enlarged to the size (their shorter side was smaller); reported, never silent. */
  enlarged: number
}

const CONCURRENCY = 8

/** Sources larger than this are reduced to it by default (ImageNet backbones' size). */
export const MAX_DEFAULT_SIZE = 224

/**
 * The square side an import uses unless told otherwise: the source's own side (`side`: the
 * declared size of an array source, or the shorter side of the first image), reduced to
 * {@link MAX_DEFAULT_SIZE} px when larger, never enlarged. Undefined while the side is unknown.
 */
export function defaultImageSize(side?: number): number | undefined {
  return side === undefined ? undefined : Math.min(side, MAX_DEFAULT_SIZE)
}

/** The side an image imposes on the default size: its shorter side, so that no axis is enlarged. */
export function imageSide(img: { width: number; height: number }): number {
  return Math.min(img.width, img.height)
}

function stratumOf(label: number | Float32Array): string {
  if (typeof label === 'number') return String(label)
  const k = label.indexOf(1)
  return k < 0 ? 'none' : String(k)
}

/** Assigns every item a split; reports items left without one. Returns the split source and seed used. */
export function assignSplits(
  src: ImportSource,
  fractions: SplitFractions,
  seed: number,
  issues: ImportIssue[]
): { items: (SourceItem & { split: SplitName })[]; source: DatasetMeta['splitSource']; seeded: boolean } {
  const own = src.items.some((i) => i.split !== undefined)
  if (!own) {
    const splits = stratifiedGroupSplit(
      src.items.map((i) => ({ stratum: stratumOf(i.label), group: i.group ?? i.file })),
      fractions,
      seed
    )
    return { items: src.items.map((it, k) => ({ ...it, split: splits[k] })), source: 'stratified', seeded: true }
  }
  const items: (SourceItem & { split: SplitName })[] = []
  for (const it of src.items) {
    if (it.split === undefined) issues.push({ file: it.file, reason: 'no split value while other images have one' })
    else items.push(it as SourceItem & { split: SplitName })
  }
  if (items.some((i) => i.split === 'val') || fractions.val === 0) return { items, source: 'dataset', seeded: false }
  // Train and test only (Fashion-MNIST, some manifests): carve validation out of train.
  const train = items.filter((i) => i.split === 'train')
  const share = fractions.val / (fractions.train + fractions.val)
  const carved = stratifiedGroupSplit(
    train.map((i) => ({ stratum: stratumOf(i.label), group: i.group ?? i.file })),
    { train: 1 - share, val: share, test: 0 },
    seed
  )
  train.forEach((it, k) => (it.split = carved[k]))
  return { items, source: 'dataset', seeded: true }
}

/** Imports a dataset into `hooks.outDir`. Throws only when the input as a whole is unusable or on cancel. */
export async function importDataset(opts: ImportOptions, hooks: ImportHooks): Promise<ImportResult> {
  const signal = hooks.signal
  const progress = hooks.onProgress ?? (() => undefined)
  progress({ phase: 'scan', done: 0, total: 0 })
  const importer = await chooseImporter(opts.input, opts.format ?? 'auto', opts.csv)
  const uncertain = opts.uncertain ?? 'ignore'
  const src = await importer.scan({ input: opts.input, csv: opts.csv, uncertain, columns: opts.columns })
  signal?.throwIfAborted()
  const errors: ImportIssue[] = [...src.issues]
  const fractions = typeof opts.split === 'string' ? parseSplit(opts.split) : (opts.split ?? DEFAULT_SPLIT)
  const seed = opts.seed ?? 0
  const { items, source, seeded } = assignSplits(src, fractions, seed, errors)
  // Unknown until the first image is decoded when the source declares no size (folders, files, CSV manifests).
  let size: number | undefined = opts.size ?? defaultImageSize(src.nativeSize)
  if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 4096))
    throw new Error(`size ${size}: expected an integer number of pixels in 1..4096`)
  let enlarged = 0
  let channels: 1 | 3 | undefined = opts.channels === 3 ? 3 : src.nativeChannels
  let writer: CacheWriter | undefined
  const total = items.length
  let imported = 0
  const perClass: DatasetMeta['perClass'] = { train: {}, val: {}, test: {} }
  for (const s of ['train', 'val', 'test'] as const) for (const c of src.classes) perClass[s][c] = 0
  progress({ phase: 'images', done: 0, total })
  try {
    let lastReport = 0
    for (let start = 0; start < total;) {
      signal?.throwIfAborted()
      // One at a time until the first image has decided the channels ('keep' with an unknown source) and the size.
      const window = items.slice(start, start + (channels === undefined || size === undefined ? 1 : CONCURRENCY))
      start += window.length
      const done = await Promise.all(
        window.map(async (item): Promise<Uint8Array[] | Error> => {
          let frames: RawImage[]
          try {
            frames = await src.load(item)
            if (frames.length === 0) throw new Error('no image in file')
          } catch (e) {
            return e instanceof Error ? e : new Error(errorText(e))
          }
          channels ??= frames[0].channels
          size ??= defaultImageSize(imageSide(frames[0])) as number
          const side = size
          enlarged += frames.filter((f) => imageSide(f) < side).length
          try {
            return await Promise.all(frames.map((f) => preprocess(f, side, channels!)))
          } catch (e) {
            return new Error(`could not resize: ${errorText(e)}`)
          }
        })
      )
      for (let k = 0; k < window.length; k++) {
        const item = window[k]
        const pixels = done[k]
        if (pixels instanceof Error) {
          errors.push({ file: item.file, reason: pixels.message || 'unreadable' })
          continue
        }
        writer ??= await CacheWriter.create(hooks.outDir, {
          task: src.task,
          numLabels: src.classes.length,
          size: size!,
          channels: channels!
        })
        for (const p of pixels) {
          await writer.append(item.split, p, item.label)
          tally(perClass, item.split, item.label, src.classes)
        }
        imported += pixels.length
      }
      if (start - lastReport >= CONCURRENCY * 16 || start === total) {
        lastReport = start
        progress({ phase: 'images', done: start, total })
      }
    }
    signal?.throwIfAborted()
    if (!writer || imported === 0) throw new ImportFailure('no image could be imported', errors)
    progress({ phase: 'finish', done: total, total })
    const counts = writer.counts()
    const meta = await writer.finish(
      {
        cacheVersion: 1,
        name: opts.name ?? basename(opts.input).replace(/\.(npz|csv)$/i, ''),
        format: src.format,
        task: src.task,
        classes: src.classes,
        size: [size!, size!],
        channels: channels!,
        counts,
        perClass,
        splitSource: source,
        ...(seeded ? { splitSeed: seed } : {}),
        ...(src.format === 'csv' && src.task === 'multilabel' ? { uncertainPolicy: uncertain } : {})
      },
      src.classes
    )
    return { meta, imported, failed: errors.length, errors, enlarged }
  } catch (e) {
    await writer?.abort()
    throw e
  }
}

/** Raised when nothing at all could be imported; carries the per-file reasons. */
export class ImportFailure extends Error {
  constructor(
    message: string,
    /** Every input that failed, with its reason. */
    readonly errors: ImportIssue[]
  ) {
    super(message)
  }
}

/** Adds one image's label to the per-split, per-class counts (multi-label: positives per label). */
function tally(per: DatasetMeta['perClass'], split: SplitName, label: number | Float32Array, classes: string[]): void {
  if (typeof label === 'number') per[split][classes[label]]++
  else label.forEach((v, k) => v === 1 && per[split][classes[k]]++)
}
