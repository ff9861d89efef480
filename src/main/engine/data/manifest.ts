/**
 * Pure logic of CSV manifests: which column holds what (auto-detected, with
 * overrides), and the rows turned into one label per image (several rows per
 * image aggregated). No file access here.
 */
import type { CsvTable } from './csv'
import type { SplitName, TaskKind } from './types'
import type { ImportIssue, UncertainPolicy } from './importers/types'
import type { ColumnRoles } from '../../../shared/job-results'

const PATH_NAMES = [
  'path',
  'filepath',
  'file_path',
  'image_path',
  'filename',
  'file_name',
  'file',
  'image',
  'image_id',
  'imageid',
  'img',
  'id_code',
  'patientid',
  'patient_id',
  'id'
]
const LABEL_NAMES = [
  'label',
  'labels',
  'class',
  'class_name',
  'dx',
  'diagnosis',
  'target',
  'category',
  'grade',
  'level'
]
const SPLIT_NAMES = ['split', 'fold', 'set', 'subset', 'partition']
const GROUP_NAMES = ['lesion_id', 'patient_id', 'patientid', 'patient', 'subject_id', 'subject', 'study_id']
const SPLIT_VALUES: Record<string, SplitName> = {
  train: 'train',
  training: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
  dev: 'val',
  test: 'test',
  testing: 'test'
}
const BINARY = /^(-?1(\.0*)?|0(\.0*)?|)$/

function find(header: string[], names: string[], taken: Set<string>): string | undefined {
  for (const n of names) {
    const h = header.find((c) => c.toLowerCase() === n && !taken.has(c))
    if (h !== undefined) return h
  }
  return undefined
}

/** Detects column roles; `overrides` win. Throws when no path or label column can be found. */
export function detectRoles(
  t: CsvTable,
  overrides: Partial<Record<'path' | 'label' | 'split' | 'group', string>> & { labels?: string[] } = {}
): ColumnRoles {
  for (const c of [overrides.path, overrides.label, overrides.split, overrides.group, ...(overrides.labels ?? [])])
    if (c !== undefined && !t.header.includes(c))
      throw new Error(`column "${c}" not found (columns: ${t.header.join(', ')})`)
  const taken = new Set<string>()
  const path = overrides.path ?? find(t.header, PATH_NAMES, taken)
  if (!path)
    throw new Error(`no image path/id column found (columns: ${t.header.join(', ')}); name one with --path-column`)
  taken.add(path)
  const split = overrides.split ?? find(t.header, SPLIT_NAMES, taken)
  if (split) taken.add(split)
  let group = overrides.group ?? find(t.header, GROUP_NAMES, taken)
  if (group) taken.add(group)
  if (overrides.labels) return { path, labels: overrides.labels, labelKind: kindOf(t, overrides.labels), split, group }
  const label = overrides.label ?? find(t.header, LABEL_NAMES, taken)
  if (label) return { path, label, labelKind: 'class', split, group }
  const idx = t.header.map((_, i) => i)
  const binary = idx
    .filter(
      (i) =>
        !taken.has(t.header[i]) &&
        t.header[i] !== '' &&
        t.rows.every((r) => BINARY.test(r[i].trim())) &&
        t.rows.some((r) => r[i].trim() !== '')
    )
    .map((i) => t.header[i])
  if (binary.length < 2)
    throw new Error(`no label column found (columns: ${t.header.join(', ')}); name one with --label-column`)
  group ??= undefined
  return { path, labels: binary, labelKind: kindOf(t, binary), split, group }
}

function kindOf(t: CsvTable, cols: string[]): 'onehot' | 'multilabel' {
  const idx = cols.map((c) => t.header.indexOf(c))
  const onehot = t.rows.every(
    (r) =>
      idx.reduce((a, i) => a + (Number(r[i]) === 1 ? 1 : 0), 0) === 1 &&
      idx.every((i) => r[i].trim() !== '' && Number(r[i]) >= 0)
  )
  return onehot ? 'onehot' : 'multilabel'
}

/**
 * Class names that look corrupted: a name containing another class name glued to
 * more letters ("Melanomaanocytic Nevi" contains "Melanoma"). Returned with the reason.
 */
export function suspiciousClassNames(names: string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const b of names)
    for (const a of names) {
      if (a === b || a.length < 3) continue
      let at = b.indexOf(a)
      while (at >= 0) {
        const before = b[at - 1]
        const after = b[at + a.length]
        if ((before !== undefined && /\p{L}/u.test(before)) || (after !== undefined && /\p{L}/u.test(after))) {
          out.set(b, `ambiguous class name "${b}": contains class name "${a}" glued to other letters (corrupted name?)`)
          break
        }
        at = b.indexOf(a, at + 1)
      }
    }
  return out
}

/** One image's aggregated labels from one or more rows. */
export interface ManifestEntry {
  /** The raw path/id cell (first row), normalised to '/' separators. */
  key: string
  /** Row numbers (1-based, header = row 1) that named this image. */
  rows: number[]
  label: number | Float32Array
  split?: SplitName
  group?: string
}

/** The manifest read into per-image entries, its classes, and the rows it rejected. */
export interface Manifest {
  task: TaskKind
  classes: string[]
  entries: ManifestEntry[]
  /** Rows rejected (file = the row's path cell, or `row N`). */
  issues: ImportIssue[]
}

/** Builds per-image labels from the table and roles. Bad rows are reported, never fatal. */
export function buildManifest(t: CsvTable, roles: ColumnRoles, uncertain: UncertainPolicy): Manifest {
  const col = (name: string | undefined): number => (name === undefined ? -1 : t.header.indexOf(name))
  const pathI = col(roles.path)
  const splitI = col(roles.split)
  const groupI = col(roles.group)
  const issues: ImportIssue[] = []
  const byKey = new Map<string, { rows: number[]; cells: string[][]; split?: string; group?: string }>()
  t.rows.forEach((r, n) => {
    const key = r[pathI].trim().replace(/\\/g, '/')
    if (key === '') {
      issues.push({ file: `row ${n + 2}`, reason: `empty ${roles.path} cell` })
      return
    }
    const e = byKey.get(key) ?? { rows: [], cells: [] }
    e.rows.push(n + 2)
    e.cells.push(r)
    if (splitI >= 0) e.split ??= r[splitI].trim()
    if (groupI >= 0) e.group ??= r[groupI].trim()
    byKey.set(key, e)
  })
  let classes: string[]
  let task: TaskKind = 'single'
  const entries: ManifestEntry[] = []
  const reject = (key: string, reason: string): void => void issues.push({ file: key, reason })
  const splitOf = (key: string, v: string | undefined): SplitName | undefined | null => {
    if (v === undefined || v === '') return undefined
    const s = SPLIT_VALUES[v.toLowerCase()]
    if (!s) reject(key, `unknown split "${v}" in column ${roles.split} (expected train, val or test)`)
    return s ?? null
  }
  const groupOf = (key: string, g: string | undefined): string | undefined => g || /patient\d+/i.exec(key)?.[0]
  if (roles.labelKind === 'class') {
    const li = col(roles.label)
    const values = [...new Set(t.rows.map((r) => r[li].trim()).filter((v) => v !== ''))]
    const numeric = values.every((v) => Number.isFinite(Number(v)) && Number.isInteger(Number(v)))
    const bad = numeric ? new Map<string, string>() : suspiciousClassNames(values)
    classes = values.filter((v) => !bad.has(v)).sort(numeric ? (a, b) => Number(a) - Number(b) : undefined)
    if (numeric) classes = [...new Set(classes.map((v) => String(Number(v))))]
    const index = new Map(classes.map((c, i) => [c, i]))
    for (const [key, e] of byKey) {
      const raw = e.cells.map((r) => r[li].trim()).filter((v) => v !== '')
      if (raw.length === 0) {
        reject(key, `no label in column ${roles.label}`)
        continue
      }
      const badName = raw.find((v) => bad.has(v))
      if (badName !== undefined) {
        reject(key, `${bad.get(badName)!}; not imported`)
        continue
      }
      let label: number
      if (numeric)
        label = index.get(String(Math.max(...raw.map(Number))))! // several rows (RSNA boxes): any positive wins
      else {
        const distinct = [...new Set(raw)]
        if (distinct.length > 1) {
          reject(
            key,
            `conflicting labels ${distinct.map((d) => `"${d}"`).join(', ')} in column ${roles.label} (rows ${e.rows.join(', ')})`
          )
          continue
        }
        label = index.get(distinct[0])!
      }
      const split = splitOf(key, e.split)
      if (split === null) continue
      entries.push({ key, rows: e.rows, label, split, group: groupOf(key, e.group) })
    }
  } else {
    const cols = roles.labels!
    const idx = cols.map((c) => col(c))
    classes = [...cols]
    task = roles.labelKind === 'onehot' ? 'single' : 'multilabel'
    for (const [key, e] of byKey) {
      const vec = new Float32Array(cols.length).fill(NaN)
      let badCell: string | undefined
      for (const r of e.cells)
        idx.forEach((ci, k) => {
          const s = r[ci].trim()
          if (s === '') return
          const v = Number(s)
          if (!(v === 1 || v === 0 || v === -1))
            badCell ??= `value "${s}" in column ${cols[k]} is not 1, 0, -1 or blank`
          const mapped = v === -1 ? (uncertain === 'ones' ? 1 : uncertain === 'zeros' ? 0 : NaN) : v
          if (!Number.isNaN(mapped)) vec[k] = Number.isNaN(vec[k]) ? mapped : Math.max(vec[k], mapped)
        })
      if (badCell) {
        reject(key, badCell)
        continue
      }
      let label: number | Float32Array = vec
      if (task === 'single') {
        const hot = [...vec].flatMap((v, k) => (v === 1 ? [k] : []))
        if (hot.length !== 1) {
          reject(key, `one-hot columns ${cols.join(', ')} have ${hot.length} ones (rows ${e.rows.join(', ')})`)
          continue
        }
        label = hot[0]
      } else if (vec.every((v) => Number.isNaN(v))) {
        reject(
          key,
          `no known label in columns ${cols.join(', ')} (all blank${uncertain === 'ignore' ? ' or uncertain' : ''})`
        )
        continue
      }
      const split = splitOf(key, e.split)
      if (split === null) continue
      entries.push({ key, rows: e.rows, label, split, group: groupOf(key, e.group) })
    }
  }
  return { task, classes, entries, issues }
}
