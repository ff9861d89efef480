/**
 * Image folders: one sub-folder per class, optionally below `train/ val/ test/`
 * (`valid`, `validation` accepted). Files deeper inside a class folder belong to
 * that class (patient / study sub-folders). PNG, JPEG, TIFF, BMP and DICOM files
 * are recognised by content; anything else is reported when loaded.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { SplitName } from '../types'
import { loadFile, sniffFile, walk } from './files'
import type { FormatName, Importer, ImportIssue, ImportSource, SourceItem } from './types'

const SPLIT_DIRS: Record<string, SplitName> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  test: 'test',
  testing: 'test'
}

/** Scans a class-folder tree (shared by the folder and DICOM importers). */
export async function scanFolder(root: string, format: FormatName): Promise<ImportSource> {
  if (!(await stat(root)).isDirectory())
    throw new Error('the folder importer needs a folder with one sub-folder per class')
  const files = await walk(root)
  const tops = new Set(files.filter((f) => f.includes('/')).map((f) => f.split('/')[0].toLowerCase()))
  const splitLayout = tops.size > 0 && [...tops].every((t) => t in SPLIT_DIRS)
  const issues: ImportIssue[] = []
  const found: { file: string; cls: string; split?: SplitName }[] = []
  for (const file of files) {
    const parts = file.split('/')
    const depth = splitLayout ? 2 : 1
    if (parts.length <= depth) {
      issues.push({
        file,
        reason: splitLayout ? 'not inside a class folder under its split folder' : 'not inside a class folder'
      })
      continue
    }
    found.push({ file, cls: parts[depth - 1], split: splitLayout ? SPLIT_DIRS[parts[0].toLowerCase()] : undefined })
  }
  const classes = [...new Set(found.map((f) => f.cls))].sort()
  if (classes.length === 0) throw new Error('no class sub-folders with files found')
  const index = new Map(classes.map((c, i) => [c, i]))
  const items: SourceItem[] = found.map((f) => ({
    file: f.file,
    label: index.get(f.cls)!,
    split: f.split,
    ref: join(root, f.file)
  }))
  return { format, task: 'single', classes, items, issues, load: (item) => loadFile(item.ref as string) }
}

/** The share of sampled files (up to 50) that are DICOM. */
export async function dicomShare(root: string): Promise<number> {
  const files = (await walk(root)).slice(0, 50)
  if (files.length === 0) return 0
  let n = 0
  for (const f of files) if ((await sniffFile(join(root, f))) === 'dicom') n++
  return n / files.length
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false
  )
}

export const folderImporter: Importer = {
  name: 'folder',
  async detect(input) {
    return (await isDir(input)) && (await dicomShare(input)) <= 0.5
  },
  scan: (opts) => scanFolder(opts.input, 'folder')
}

export const dicomImporter: Importer = {
  name: 'dicom',
  async detect(input) {
    return (await isDir(input)) && (await dicomShare(input)) > 0.5
  },
  scan: (opts) => scanFolder(opts.input, 'dicom')
}
