/** Repository of imported datasets. */
import type { DatasetRecord, DatasetStatus, Json } from '../../../shared/records'
import type { Db } from '../db'
import { fromJson, newId, now, relPath, toJson } from '../util'

interface Row {
  id: string
  name: string
  format: string
  task: 'single' | 'multilabel'
  status: DatasetStatus
  classes_json: string
  counts_json: string
  meta_json: string
  dir: string
  error: string | null
  created_at: string
  updated_at: string
}

function toRecord(r: Row): DatasetRecord {
  return {
    id: r.id,
    name: r.name,
    format: r.format,
    task: r.task,
    status: r.status,
    classes: fromJson(r.classes_json),
    counts: fromJson(r.counts_json),
    meta: fromJson(r.meta_json),
    dir: r.dir,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }
}

/** What a new dataset needs; `dir` defaults to `datasets/<id>`. */
export interface NewDataset {
  id?: string
  name: string
  format: string
  task: 'single' | 'multilabel'
  status?: DatasetStatus
  classes?: string[]
  counts?: Record<string, number>
  meta?: Json
  dir?: string
}

/** Fields an import may update as it goes. */
export type DatasetUpdate = Partial<
  Pick<DatasetRecord, 'name' | 'status' | 'classes' | 'counts' | 'meta' | 'error' | 'task'>
>

export class DatasetsRepo {
  constructor(private readonly db: Db) {}

  create(d: NewDataset): DatasetRecord {
    const id = d.id ?? newId('ds')
    const t = now()
    this.db
      .prepare(
        `INSERT INTO datasets (id, name, format, task, status, classes_json, counts_json, meta_json, dir, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      )
      .run(
        id,
        d.name,
        d.format,
        d.task,
        d.status ?? 'importing',
        toJson(d.classes ?? []),
        toJson(d.counts ?? {}),
        toJson(d.meta ?? null),
        relPath(d.dir ?? `datasets/${id}`, 'dir'),
        t,
        t
      )
    return this.require(id)
  }

  get(id: string): DatasetRecord | undefined {
    const row = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as Row | undefined
    return row && toRecord(row)
  }

  /** Like get, but throws when absent. */
  require(id: string): DatasetRecord {
    const d = this.get(id)
    if (!d) throw new Error(`dataset ${id} not found`)
    return d
  }

  list(limit = 200): DatasetRecord[] {
    return (
      this.db.prepare('SELECT * FROM datasets ORDER BY created_at DESC, id DESC LIMIT ?').all(limit) as Row[]
    ).map(toRecord)
  }

  update(id: string, u: DatasetUpdate): DatasetRecord {
    const cur = this.require(id)
    const next = { ...cur, ...u }
    this.db
      .prepare(
        `UPDATE datasets SET name = ?, task = ?, status = ?, classes_json = ?, counts_json = ?, meta_json = ?, error = ?, updated_at = ?
      WHERE id = ?`
      )
      .run(
        next.name,
        next.task,
        next.status,
        toJson(next.classes),
        toJson(next.counts),
        toJson(next.meta),
        next.error,
        now(),
        id
      )
    return this.require(id)
  }

  /** Deletes a dataset that no run uses (throws a foreign-key error otherwise). */
  delete(id: string): void {
    this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id)
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM datasets').get() as { n: number }).n
  }
}
