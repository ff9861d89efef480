/**
 * What an import would see, before importing: the format the importers recognise, for CSV
 * manifests the columns and the role each was given (detectRoles), the classes and how many
 * items each split holds, and the size/channel defaults the import would use. Reuses the
 * importers' own detection and scan; reads labels and names only (no pixels decoded).
 */
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, relative } from 'node:path'
import { parseCsv } from './csv'
import { defaultImageSize } from './import'
import { chooseImporter } from './importers'
import { soleManifest } from './importers/files'
import type { FormatName, ScanOptions } from './importers/types'
import { detectRoles } from './manifest'
import type { TaskKind } from './types'

/** The columns of a CSV manifest and the role the importer gives each. */
export interface ManifestColumns {
  /** The manifest's file name, relative to the chosen folder. */
  manifest: string
  /** Every column of the header, in order. */
  header: string[]
  /** Column naming the image. */
  path: string
  /** Single class column, when the labels are class names or numbers. */
  label?: string
  /** One-hot or multi-label columns, when the labels are spread over columns. */
  labels?: string[]
  labelKind: 'class' | 'onehot' | 'multilabel'
  /** Column holding the dataset's own split, when there is one. */
  split?: string
  /** Patient / lesion column (its images never straddle splits). */
  group?: string
}

/** What the import wizard shows before importing. */
export interface SourceInspection {
  /** The importer that recognised the input. */
  format: FormatName
  task: TaskKind
  /** Class (or label) names in label-index order. */
  classes: string[]
  /** Items per class (single-label: by class; multi-label: positives per label). */
  perClass: Record<string, number>
  /** Items per split of the source's own split ('none' for items without one). */
  perSplit: Record<string, number>
  /** Items found (a multi-frame DICOM file counts once here). */
  items: number
  /** Whether the source brings its own train/val/test split (else the import makes one). */
  ownSplit: boolean
  /** Square side the import uses by default, pixels (28 for 28 px sources, else 224). */
  defaultSize: number
  /** Channels of the source when known (1 or 3), else null (decided by the first image). */
  channels: 1 | 3 | null
  /** CSV manifests only: the columns and their roles. */
  columns?: ManifestColumns
  /** Inputs the scan already rejects (first 20), with the count of all of them. */
  issues: { file: string; reason: string }[]
  issueCount: number
}

/** Inspects the file or folder an import would read; throws (with a message naming what is wrong) when no importer accepts it. */
export async function inspectSource(opts: { input: string; csv?: string; format?: FormatName | 'auto'; columns?: ScanOptions['columns'] }): Promise<SourceInspection> {
  const importer = await chooseImporter(opts.input, opts.format ?? 'auto', opts.csv)
  const src = await importer.scan({ input: opts.input, csv: opts.csv, uncertain: 'ignore', columns: opts.columns })
  const perClass: Record<string, number> = Object.fromEntries(src.classes.map((c) => [c, 0]))
  const perSplit: Record<string, number> = {}
  for (const item of src.items) {
    if (typeof item.label === 'number') perClass[src.classes[item.label]]++
    else item.label.forEach((v, j) => v === 1 && perClass[src.classes[j]]++)
    const split = item.split ?? 'none'
    perSplit[split] = (perSplit[split] ?? 0) + 1
  }
  let columns: ManifestColumns | undefined
  if (src.format === 'csv') {
    const inputIsFile = (await stat(opts.input)).isFile()
    const manifest = opts.csv ?? (inputIsFile ? opts.input : await soleManifest(opts.input))
    if (manifest) {
      const table = parseCsv(await readFile(manifest, 'utf8'))
      const root = inputIsFile ? dirname(opts.input) : opts.input
      const rel = relative(root, manifest)
      columns = { manifest: rel.startsWith('..') ? basename(manifest) : rel, header: table.header, ...detectRoles(table, opts.columns) }
    }
  }
  return {
    format: src.format,
    task: src.task,
    classes: src.classes,
    perClass,
    perSplit,
    items: src.items.length,
    ownSplit: src.items.some((i) => i.split !== undefined),
    defaultSize: defaultImageSize(src.nativeSize),
    channels: src.nativeChannels ?? null,
    ...(columns ? { columns } : {}),
    issues: src.issues.slice(0, 20),
    issueCount: src.issues.length
  }
}
