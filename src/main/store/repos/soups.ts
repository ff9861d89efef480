/** Repository of soups and their ingredients. */
import type { Json, SoupIngredientRecord, SoupRecord, WorkStatus } from '../../../shared/records'
import type { Db } from '../db'
import { fromJson, newId, now, relPath, toJson } from '../util'

interface SoupRow {
  id: string
  run_id: string
  name: string
  method: string
  group_by: string | null
  group_key: string | null
  selection_metric: string
  val_score: number | null
  checkpoint_path: string | null
  wall_seconds: number
  backend: string | null
  status: WorkStatus
  config_json: string
  created_at: string
}
interface IngredientRow {
  soup_id: string
  position: number
  member_id: string | null
  child_soup_id: string | null
  weight: number
  kept: number
  step_score: number | null
}

function soupRecord(r: SoupRow): SoupRecord {
  return {
    id: r.id,
    runId: r.run_id,
    name: r.name,
    method: r.method,
    groupBy: r.group_by,
    groupKey: r.group_key,
    selectionMetric: r.selection_metric,
    valScore: r.val_score,
    checkpointPath: r.checkpoint_path,
    wallSeconds: r.wall_seconds,
    backend: r.backend,
    status: r.status,
    config: fromJson(r.config_json),
    createdAt: r.created_at
  }
}

function ingredientRecord(r: IngredientRow): SoupIngredientRecord {
  return {
    soupId: r.soup_id,
    position: r.position,
    memberId: r.member_id,
    childSoupId: r.child_soup_id,
    weight: r.weight,
    kept: r.kept === 1,
    stepScore: r.step_score
  }
}

/** A finished (or pending) soup to record. */
export interface NewSoup {
  id?: string
  runId: string
  name: string
  method: string
  groupBy?: string | null
  groupKey?: string | null
  selectionMetric: string
  valScore?: number | null
  checkpointPath?: string | null
  wallSeconds?: number
  backend?: string | null
  status?: WorkStatus
  config?: Json
}

/** One ingredient to record; `position` is its index in the list given. */
export type NewIngredient = Omit<SoupIngredientRecord, 'soupId' | 'position'>

export class SoupsRepo {
  constructor(private readonly db: Db) {}

  /** Records a soup and all its ingredients in one transaction. */
  create(s: NewSoup, ingredients: NewIngredient[] = []): SoupRecord {
    const id = s.id ?? newId('soup')
    const insertIngredient = this.db
      .prepare(`INSERT INTO soup_ingredients (soup_id, position, member_id, child_soup_id, weight, kept, step_score)
      VALUES (?, ?, ?, ?, ?, ?, ?)`)
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO soups (id, run_id, name, method, group_by, group_key, selection_metric, val_score, checkpoint_path,
        wall_seconds, backend, status, config_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
          )
          .run(
            id,
            s.runId,
            s.name,
            s.method,
            s.groupBy ?? null,
            s.groupKey ?? null,
            s.selectionMetric,
            s.valScore ?? null,
            relPath(s.checkpointPath, 'checkpointPath'),
            s.wallSeconds ?? 0,
            s.backend ?? null,
            s.status ?? 'done',
            toJson(s.config ?? {}),
            now()
          )
        ingredients.forEach((g, i) =>
          insertIngredient.run(id, i, g.memberId, g.childSoupId, g.weight, g.kept ? 1 : 0, g.stepScore)
        )
      })
      .immediate()
    return this.get(id)!
  }

  get(id: string): SoupRecord | undefined {
    const row = this.db.prepare('SELECT * FROM soups WHERE id = ?').get(id) as SoupRow | undefined
    return row && soupRecord(row)
  }

  list(runId: string): SoupRecord[] {
    return (
      this.db.prepare('SELECT * FROM soups WHERE run_id = ? ORDER BY created_at, id').all(runId) as SoupRow[]
    ).map(soupRecord)
  }

  ingredients(soupId: string): SoupIngredientRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM soup_ingredients WHERE soup_id = ? ORDER BY position')
      .all(soupId) as IngredientRow[]
    return rows.map(ingredientRecord)
  }

  /** Updates the result fields of a soup (score, checkpoint, time, status). */
  update(
    id: string,
    u: Partial<Pick<SoupRecord, 'valScore' | 'checkpointPath' | 'wallSeconds' | 'backend' | 'status'>>
  ): SoupRecord {
    const cur = this.get(id)
    if (!cur) throw new Error(`soup ${id} not found`)
    const n = { ...cur, ...u }
    this.db
      .prepare(
        'UPDATE soups SET val_score = ?, checkpoint_path = ?, wall_seconds = ?, backend = ?, status = ? WHERE id = ?'
      )
      .run(n.valScore, relPath(n.checkpointPath, 'checkpointPath'), n.wallSeconds, n.backend, n.status, id)
    return this.get(id)!
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM soups').get() as { n: number }).n
  }
}
