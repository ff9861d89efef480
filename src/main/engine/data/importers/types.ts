/**
 * What every importer produces: a list of labelled items and a loader for their
 * pixels. The orchestration (import.ts) splits, preprocesses and caches them.
 */
import type { RawImage } from '../image'
import type { SplitName, TaskKind } from '../types'

/** Importer names, as accepted by `--format`. */
export type FormatName = 'npz' | 'idx' | 'folder' | 'csv' | 'dicom'

/** Policy for CheXpert's uncertain label (-1): U-Ones, U-Zeros, or ignore (masked like a blank). */
export type UncertainPolicy = 'ones' | 'zeros' | 'ignore'

/** A file or input that could not be used, and why. */
export interface ImportIssue {
  /** Path relative to the folder (or file) the user chose; never an absolute path. */
  file: string
  /** Non-empty human-readable reason. */
  reason: string
}

/** Options an importer's scan needs. */
export interface ScanOptions {
  /** The file or folder the user chose (absolute). */
  input: string
  /** CSV manifest (absolute), for the csv importer. */
  csv?: string
  uncertain: UncertainPolicy
  /** Column role overrides for the csv importer. */
  columns?: Partial<Record<'path' | 'label' | 'split' | 'group', string>> & { labels?: string[] }
}

/** One labelled input: a file (may hold several frames) or one array entry. */
export interface SourceItem {
  /** Name for messages, relative to the chosen folder. */
  file: string
  /** Class index (single-label) or L values 1 / 0 / NaN (multi-label). */
  label: number | Float32Array
  /** The dataset's own split, when it has one. */
  split?: SplitName
  /** Items of one group (patient, lesion) never straddle splits; defaults to the item itself. */
  group?: string
  /** Importer-private reference (array index or absolute path). */
  ref: number | string
}

/** A scanned dataset, ready to split and load. */
export interface ImportSource {
  format: FormatName
  task: TaskKind
  classes: string[]
  items: SourceItem[]
  /** Inputs rejected while scanning (manifest rows, stray files, unknown class names). */
  issues: ImportIssue[]
  /** Side of the source images when known and uniform (28 for MedMNIST), for the default size. */
  nativeSize?: number
  /** Channels of the source images when known. */
  nativeChannels?: 1 | 3
  /** Decodes an item into one or more 8-bit images; throws an Error whose message is the reason. */
  load(item: SourceItem): Promise<RawImage[]>
}

/** An importer: a content check and a scan. */
export interface Importer {
  name: FormatName
  /** True when `input` looks like this importer's format (by content, not just name). */
  detect(input: string, csv?: string): Promise<boolean>
  scan(opts: ScanOptions): Promise<ImportSource>
}
