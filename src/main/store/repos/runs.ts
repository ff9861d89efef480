/** Repository of runs, their members and the members' per-epoch metrics. */
import type { Json, MemberRecord, MetricRecord, RunRecord, WorkStatus } from '../../../shared/records'
import type { Db } from '../db'
import { fromJson, newId, now, relPath, toJson } from '../util'

interface RunRow {
  id: string
  name: string
  dataset_id: string
  kind: string
  status: WorkStatus
  config_json: string
  created_at: string
  updated_at: string
}
interface MemberRow {
  id: string
  run_id: string
  name: string
  parent_id: string | null
  group_key: string | null
  hyperparams_json: string
  epochs: number
  wall_seconds: number
  backend: string | null
  checkpoint_path: string | null
  status: WorkStatus
  val_score: number | null
  created_at: string
  updated_at: string
}
interface MetricRow {
  member_id: string
  epoch: number
  name: string
  value: number
}

function runRecord(r: RunRow): RunRecord {
  return {
    id: r.id,
    name: r.name,
    datasetId: r.dataset_id,
    kind: r.kind,
    status: r.status,
    config: fromJson(r.config_json),
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }
}

function memberRecord(r: MemberRow): MemberRecord {
  return {
    id: r.id,
    runId: r.run_id,
    name: r.name,
    parentId: r.parent_id,
    groupKey: r.group_key,
    hyperparams: fromJson(r.hyperparams_json),
    epochs: r.epochs,
    wallSeconds: r.wall_seconds,
    backend: r.backend,
    checkpointPath: r.checkpoint_path,
    status: r.status,
    valScore: r.val_score,
    createdAt: r.created_at,
    updatedAt: r.updated_at
  }
}

/** What a new run needs. */
export interface NewRun {
  id?: string
  name: string
  datasetId: string
  kind: string
  config?: Json
  status?: WorkStatus
}

/** What a new member needs. */
export interface NewMember {
  id?: string
  runId: string
  name: string
  parentId?: string | null
  groupKey?: string | null
  hyperparams?: Record<string, Json>
  status?: WorkStatus
}

/** Fields a trainer updates as a member trains. */
export type MemberUpdate = Partial<
  Pick<
    MemberRecord,
    | 'name'
    | 'groupKey'
    | 'hyperparams'
    | 'epochs'
    | 'wallSeconds'
    | 'backend'
    | 'checkpointPath'
    | 'status'
    | 'valScore'
  >
>

export class RunsRepo {
  constructor(private readonly db: Db) {}

  create(r: NewRun): RunRecord {
    const id = r.id ?? newId('run')
    const t = now()
    this.db
      .prepare(
        'INSERT INTO runs (id, name, dataset_id, kind, status, config_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'
      )
      .run(id, r.name, r.datasetId, r.kind, r.status ?? 'pending', toJson(r.config ?? {}), t, t)
    return this.get(id)!
  }

  get(id: string): RunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined
    return row && runRecord(row)
  }

  list(opts: { datasetId?: string; limit?: number } = {}): RunRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM runs WHERE (@dataset IS NULL OR dataset_id = @dataset) ORDER BY created_at DESC, id DESC LIMIT @limit`
      )
      .all({ dataset: opts.datasetId ?? null, limit: opts.limit ?? 200 }) as RunRow[]
    return rows.map(runRecord)
  }

  setStatus(id: string, status: WorkStatus): void {
    this.db.prepare('UPDATE runs SET status = ?, updated_at = ? WHERE id = ?').run(status, now(), id)
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n
  }

  // Members

  createMember(m: NewMember): MemberRecord {
    const id = m.id ?? newId('mem')
    const t = now()
    this.db
      .prepare(
        `INSERT INTO members (id, run_id, name, parent_id, group_key, hyperparams_json, status, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
      )
      .run(
        id,
        m.runId,
        m.name,
        m.parentId ?? null,
        m.groupKey ?? null,
        toJson(m.hyperparams ?? {}),
        m.status ?? 'pending',
        t,
        t
      )
    return this.getMember(id)!
  }

  getMember(id: string): MemberRecord | undefined {
    const row = this.db.prepare('SELECT * FROM members WHERE id = ?').get(id) as MemberRow | undefined
    return row && memberRecord(row)
  }

  listMembers(runId: string): MemberRecord[] {
    return (
      this.db.prepare('SELECT * FROM members WHERE run_id = ? ORDER BY created_at, id').all(runId) as MemberRow[]
    ).map(memberRecord)
  }

  updateMember(id: string, u: MemberUpdate): MemberRecord {
    const cur = this.getMember(id)
    if (!cur) throw new Error(`member ${id} not found`)
    const n = { ...cur, ...u }
    this.db
      .prepare(
        `UPDATE members SET name = ?, group_key = ?, hyperparams_json = ?, epochs = ?, wall_seconds = ?, backend = ?,
      checkpoint_path = ?, status = ?, val_score = ?, updated_at = ? WHERE id = ?`
      )
      .run(
        n.name,
        n.groupKey,
        toJson(n.hyperparams),
        n.epochs,
        n.wallSeconds,
        n.backend,
        relPath(n.checkpointPath, 'checkpointPath'),
        n.status,
        n.valScore,
        now(),
        id
      )
    return this.getMember(id)!
  }

  countMembers(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM members').get() as { n: number }).n
  }

  // Metrics

  /**
   * Records one epoch of a member in one transaction: its metrics (replacing any earlier
   * values of that epoch) and the member's progress fields (epochs, wall time, checkpoint).
   */
  recordEpoch(memberId: string, epoch: number, metrics: Record<string, number>, member: MemberUpdate = {}): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO metrics (member_id, epoch, name, value) VALUES (?, ?, ?, ?)')
    this.db
      .transaction(() => {
        for (const [name, value] of Object.entries(metrics)) put.run(memberId, epoch, name, value)
        if (Object.keys(member).length > 0) this.updateMember(memberId, member)
      })
      .immediate()
  }

  listMetrics(memberId: string): MetricRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM metrics WHERE member_id = ? ORDER BY epoch, name')
      .all(memberId) as MetricRow[]
    return rows.map((r) => ({ memberId: r.member_id, epoch: r.epoch, name: r.name, value: r.value }))
  }
}
