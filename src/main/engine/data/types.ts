/**
 * The on-disk dataset cache shared by importers (writers) and the trainer,
 * evaluators and benchmarks (readers). One folder per dataset:
 *
 *   meta.json                     DatasetMeta (below)
 *   <split>.images.u8             uint8, N × H × W × C, row-major, no header
 *   <split>.labels.i32            single-label: int32 class index per image (N)
 *   <split>.labels.f32            multi-label: float32 N × L, 1 / 0, NaN = missing (masked)
 *   thumbs/                       a few small PNG thumbnails per class (no patient data)
 *
 * Images are read in chunks by index, never whole (see reader.ts), so memory stays
 * bounded whatever the dataset size.
 */

/** A split of a dataset. */
export type SplitName = 'train' | 'val' | 'test'

/** Single-label (softmax) or multi-label (per-label sigmoid, masked BCE). */
export type TaskKind = 'single' | 'multilabel'

/** Everything known about a cached dataset; stored as meta.json and mirrored in the store. */
export type DatasetMeta = {
  /** Format version of this cache layout. */
  cacheVersion: 1
  /** User-facing name. */
  name: string
  /** Importer that produced it (npz, idx, folder, csv, dicom, synthetic). */
  format: string
  task: TaskKind
  /** Class names (single-label) or label names (multi-label), in label-index order. */
  classes: string[]
  /** Image height and width in pixels after preprocessing. */
  size: [number, number]
  /** Channels per pixel: 1 (gray) or 3 (RGB). */
  channels: 1 | 3
  /** Number of images per split. */
  counts: Record<SplitName, number>
  /** Images per split and class (multi-label: positives per label). */
  perClass: Record<SplitName, Record<string, number>>
  /** Where the split came from: the dataset's own, or a seeded stratified group split. */
  splitSource: 'dataset' | 'stratified'
  /** Seed of a generated split (absent when the dataset brought its own). */
  splitSeed?: number
  /** Thumbnail files (relative to thumbs/) per class or label name; absent when none were written. */
  thumbnails?: Record<string, string[]>
  /** How CheXpert-style uncertain (-1) labels were mapped, when the dataset had any label columns. */
  uncertainPolicy?: 'ones' | 'zeros' | 'ignore'
}

/** An 8-bit image, rows top to bottom, channels interleaved. */
export interface RawImage {
  data: Uint8Array
  width: number
  height: number
  channels: 1 | 3
}
