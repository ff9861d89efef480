/** Repository of evaluations (model × dataset split × metric, with a confidence interval) and exports. */
import type { EvaluationRecord, ExportRecord } from '../../../shared/records'
import type { Db } from '../db'
import { newId, now, relPath } from '../util'

interface EvalRow {
  id: number
  member_id: string | null
  soup_id: string | null
  dataset_id: string
  split: string
  metric: string
  value: number
  ci_lo: number | null
  ci_hi: number | null
  n: number | null
  created_at: string
}
interface ExportRow {
  id: string
  soup_id: string | null
  member_id: string | null
  format: string
  path: string
  bytes: number
  sha256: string
  created_at: string
}

function evalRecord(r: EvalRow): EvaluationRecord {
  return {
    id: r.id,
    memberId: r.member_id,
    soupId: r.soup_id,
    datasetId: r.dataset_id,
    split: r.split,
    metric: r.metric,
    value: r.value,
    ciLo: r.ci_lo,
    ciHi: r.ci_hi,
    n: r.n,
    createdAt: r.created_at
  }
}

/** One score to record: exactly one of memberId / soupId. */
export type NewEvaluation = Omit<
  EvaluationRecord,
  'id' | 'createdAt' | 'ciLo' | 'ciHi' | 'n' | 'memberId' | 'soupId'
> & {
  memberId?: string | null
  soupId?: string | null
  ciLo?: number | null
  ciHi?: number | null
  n?: number | null
}

/** Filter of `list`; all given fields must match. */
export interface EvaluationFilter {
  memberId?: string
  soupId?: string
  /** Evaluations of the members and soups of this run. */
  runId?: string
  datasetId?: string
  split?: string
  limit?: number
}

export class EvaluationsRepo {
  constructor(private readonly db: Db) {}

  /** Records scores in one transaction, replacing earlier ones with the same model/dataset/split/metric. */
  record(evaluations: NewEvaluation[]): void {
    const del = this.db.prepare(`DELETE FROM evaluations WHERE ifnull(member_id, '') = ? AND ifnull(soup_id, '') = ?
      AND dataset_id = ? AND split = ? AND metric = ?`)
    const ins = this.db
      .prepare(`INSERT INTO evaluations (member_id, soup_id, dataset_id, split, metric, value, ci_lo, ci_hi, n, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const t = now()
    this.db
      .transaction(() => {
        for (const e of evaluations) {
          del.run(e.memberId ?? '', e.soupId ?? '', e.datasetId, e.split, e.metric)
          ins.run(
            e.memberId ?? null,
            e.soupId ?? null,
            e.datasetId,
            e.split,
            e.metric,
            e.value,
            e.ciLo ?? null,
            e.ciHi ?? null,
            e.n ?? null,
            t
          )
        }
      })
      .immediate()
  }

  list(f: EvaluationFilter = {}): EvaluationRecord[] {
    const rows = this.db
      .prepare(
        `SELECT e.* FROM evaluations e
      LEFT JOIN members m ON m.id = e.member_id LEFT JOIN soups s ON s.id = e.soup_id
      WHERE (@member IS NULL OR e.member_id = @member) AND (@soup IS NULL OR e.soup_id = @soup)
        AND (@run IS NULL OR m.run_id = @run OR s.run_id = @run)
        AND (@dataset IS NULL OR e.dataset_id = @dataset) AND (@split IS NULL OR e.split = @split)
      ORDER BY e.id LIMIT @limit`
      )
      .all({
        member: f.memberId ?? null,
        soup: f.soupId ?? null,
        run: f.runId ?? null,
        dataset: f.datasetId ?? null,
        split: f.split ?? null,
        limit: f.limit ?? 1000
      }) as EvalRow[]
    return rows.map(evalRecord)
  }

  // Exports

  createExport(x: Omit<ExportRecord, 'id' | 'createdAt'> & { id?: string }): ExportRecord {
    const id = x.id ?? newId('exp')
    this.db
      .prepare(
        'INSERT INTO exports (id, soup_id, member_id, format, path, bytes, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
      )
      .run(id, x.soupId, x.memberId, x.format, relPath(x.path, 'path'), x.bytes, x.sha256, now())
    return this.getExport(id)!
  }

  getExport(id: string): ExportRecord | undefined {
    const r = this.db.prepare('SELECT * FROM exports WHERE id = ?').get(id) as ExportRow | undefined
    return (
      r && {
        id: r.id,
        soupId: r.soup_id,
        memberId: r.member_id,
        format: r.format,
        path: r.path,
        bytes: r.bytes,
        sha256: r.sha256,
        createdAt: r.created_at
      }
    )
  }

  listExports(limit = 200): ExportRecord[] {
    const ids = this.db
      .prepare('SELECT id FROM exports ORDER BY created_at DESC, id DESC LIMIT ?')
      .pluck()
      .all(limit) as string[]
    return ids.map((id) => this.getExport(id)!)
  }
}
