/**
 * CSV manifest + image folder (the manifest given with --csv, or the only .csv file at the
 * top of the chosen folder). The manifest names each image by a relative path
 * or an id without extension; paths must stay inside the chosen folder. Labels
 * come from a class column, one-hot columns or binary multi-label columns
 * (see manifest.ts); images may be PNG, JPEG, TIFF, BMP or DICOM.
 */
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, posix, relative } from 'node:path'
import { parseCsv } from '../csv'
import { buildManifest, detectRoles } from '../manifest'
import { loadFile, soleManifest, walk } from './files'
import type { Importer, ImportIssue, ImportSource, SourceItem } from './types'

const EXT = /\.(png|jpe?g|tiff?|bmp|dcm|dicom)$/i

/** Index of the folder's files for resolving manifest names (exact path, or path without extension). */
export class FileIndex {
  private readonly exact = new Set<string>()
  private readonly stems = new Map<string, string>()
  constructor(
    private readonly root: string,
    files: string[]
  ) {
    for (const f of files) {
      this.exact.add(f)
      const stem = f.replace(/\.[^./]+$/, '')
      if (!this.stems.has(stem) || EXT.test(f)) this.stems.set(stem, f)
    }
  }

  /** The relative file a manifest cell names, or an issue reason. */
  resolve(cell: string): { file: string } | { reason: string } {
    if (isAbsolute(cell) || /^[A-Za-z]:[\\/]/.test(cell))
      return { reason: 'absolute path in the manifest; paths must be relative to the chosen folder' }
    const norm = posix.normalize(cell.replace(/^\.\//, ''))
    if (norm === '..' || norm.startsWith('../')) return { reason: 'path escapes the chosen folder' }
    const candidates = [norm]
    // CheXpert-style paths start with the dataset folder's own name.
    const first = norm.split('/')[0]
    if (first === basename(this.root) && norm.includes('/')) candidates.push(norm.slice(first.length + 1))
    for (const c of candidates) {
      if (this.exact.has(c)) return { file: c }
      const s = this.stems.get(c)
      if (s !== undefined) return { file: s }
    }
    return { reason: 'file not found in the chosen folder' }
  }
}

export const csvImporter: Importer = {
  name: 'csv',
  async detect(input, csv) {
    if (csv) return true
    if (await soleManifest(input)) return true
    try {
      if (!(await stat(input)).isFile() || !/\.(csv|tsv|txt)$/i.test(input)) return false
      const head = (await readFile(input, 'utf8')).slice(0, 4096)
      return !head.includes('\u0000') && /[,;\t]/.test(head.split(/\r?\n/)[0])
    } catch {
      return false
    }
  },
  async scan(opts): Promise<ImportSource> {
    const inputIsFile = (await stat(opts.input)).isFile()
    const manifestPath = opts.csv ?? (inputIsFile ? opts.input : await soleManifest(opts.input))
    if (!manifestPath)
      throw new Error('no CSV manifest: name one with --csv, or put exactly one .csv file in the chosen folder')
    const root = inputIsFile ? dirname(opts.input) : opts.input
    const table = parseCsv(await readFile(manifestPath, 'utf8'))
    const roles = detectRoles(table, opts.columns)
    const manifest = buildManifest(table, roles, opts.uncertain)
    const index = new FileIndex(root, await walk(root))
    const issues: ImportIssue[] = [...manifest.issues]
    const items: SourceItem[] = []
    for (const e of manifest.entries) {
      const r = index.resolve(e.key)
      if ('reason' in r) issues.push({ file: e.key, reason: r.reason })
      else items.push({ file: r.file, label: e.label, split: e.split, group: e.group, ref: join(root, r.file) })
    }
    const manifestName = relative(root, manifestPath).startsWith('..')
      ? basename(manifestPath)
      : relative(root, manifestPath)
    for (const i of issues) if (i.file.startsWith('row ')) i.file = `${manifestName} ${i.file}`
    return {
      format: 'csv',
      task: manifest.task,
      classes: manifest.classes,
      items,
      issues,
      load: (item) => loadFile(item.ref as string)
    }
  }
}
