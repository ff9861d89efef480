/**
 * What an import would see, before importing: the format the importers recognise, for CSV
 * manifests the columns and the role each was given (detectRoles), the classes and how many
 * items each split holds, and the size/channel defaults the import would use. Reuses the
 * importers' own detection and scan; reads labels and names (and decodes the first image when the source declares no size).
 */
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, relative } from 'node:path'
import { parseCsv } from './csv'
import { defaultImageSize, imageSide, MAX_DEFAULT_SIZE } from './import'
import { chooseImporter } from './importers'
import { soleManifest } from './importers/files'
import type { FormatName, ImportSource, ScanOptions } from './importers/types'
import { detectRoles } from './manifest'
import type { DatasetInspection, ManifestColumns } from '../../../shared/api'

// The answer's shape is the contract's (what the import wizard shows before importing).
export type { ManifestColumns } from '../../../shared/api'
/** What the import wizard shows before importing (the contract's `DatasetInspection`). */
export type SourceInspection = DatasetInspection

/** The side the default import size follows: the source's declared size, else the shorter side of its first readable image (of the first 5). */
async function sourceSide(src: ImportSource): Promise<number | undefined> {
  if (src.nativeSize !== undefined) return src.nativeSize
  for (const item of src.items.slice(0, 5)) {
    try {
      const frames = await src.load(item)
      if (frames[0]) return imageSide(frames[0])
    } catch {
      /* the next one */
    }
  }
  return undefined
}

/** Inspects the file or folder an import would read; throws (with a message naming what is wrong) when no importer accepts it. */
export async function inspectSource(opts: {
  input: string
  csv?: string
  format?: FormatName | 'auto'
  columns?: ScanOptions['columns']
}): Promise<SourceInspection> {
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
      columns = {
        manifest: rel.startsWith('..') ? basename(manifest) : rel,
        header: table.header,
        ...detectRoles(table, opts.columns)
      }
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
    defaultSize: defaultImageSize(await sourceSide(src)) ?? MAX_DEFAULT_SIZE,
    channels: src.nativeChannels ?? null,
    ...(columns ? { columns } : {}),
    issues: src.issues.slice(0, 20),
    issueCount: src.issues.length
  }
}
