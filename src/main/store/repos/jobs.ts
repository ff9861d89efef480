/**
 * Repository of jobs and their events. Every status transition writes the job row and its
 * event in one transaction, so the event log and the row never disagree.
 */
import type { Json, JobEvent, JobProgress, JobRecord, JobStatus, LogLevel } from '../../../shared/records'
import type { Db } from '../db'
import { fromJson, newId, now, toJson } from '../util'

interface JobRow {
  id: string
  kind: string
  status: JobStatus
  params_json: string
  progress: number
  phase: string | null
  eta_seconds: number | null
  resumable: number
  attempt: number
  state_json: string
  result_json: string
  error: string | null
  exit_reason: string | null
  pid: number | null
  run_id: string | null
  dataset_id: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
}
interface EventRow {
  seq: number
  job_id: string
  type: JobEvent['type']
  payload_json: string
  at: string
}

function jobRecord(r: JobRow): JobRecord {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    params: fromJson(r.params_json),
    progress: r.progress,
    phase: r.phase,
    etaSeconds: r.eta_seconds,
    resumable: r.resumable === 1,
    attempt: r.attempt,
    state: fromJson(r.state_json),
    result: fromJson(r.result_json),
    error: r.error,
    exitReason: r.exit_reason,
    runId: r.run_id,
    datasetId: r.dataset_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at
  }
}

function eventRecord(r: EventRow): JobEvent {
  return { ...fromJson<object>(r.payload_json), seq: r.seq, jobId: r.job_id, at: r.at, type: r.type } as JobEvent
}

/** The event-specific part of a JobEvent. */
type EventBody = JobEvent extends infer E ? (E extends JobEvent ? Omit<E, 'seq' | 'jobId' | 'at'> : never) : never

/** What a new job needs. */
export interface NewJob {
  kind: string
  params: Json
  runId?: string | null
  datasetId?: string | null
}

export class JobsRepo {
  constructor(private readonly db: Db) {}

  create(j: NewJob): JobRecord {
    const id = newId('job')
    this.db
      .prepare(
        'INSERT INTO jobs (id, kind, status, params_json, run_id, dataset_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'
      )
      .run(id, j.kind, 'queued', toJson(j.params), j.runId ?? null, j.datasetId ?? null, now())
    return this.get(id)!
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined
    return row && jobRecord(row)
  }

  list(opts: { status?: JobStatus; limit?: number } = {}): JobRecord[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM jobs WHERE (@status IS NULL OR status = @status) ORDER BY created_at DESC, id DESC LIMIT @limit'
      )
      .all({ status: opts.status ?? null, limit: opts.limit ?? 200 }) as JobRow[]
    return rows.map(jobRecord)
  }

  /** Records the run a job writes once it is known (a fission job creates its run as it starts). */
  linkRun(id: string, runId: string): void {
    this.db.prepare('UPDATE jobs SET run_id = ? WHERE id = ?').run(runId, id)
  }

  /** Jobs left queued or running (e.g. by an app that crashed), with the engine pid they had. */
  unfinished(): Array<JobRecord & { pid: number | null }> {
    const rows = this.db.prepare("SELECT * FROM jobs WHERE status IN ('queued', 'running')").all() as JobRow[]
    return rows.map((r) => ({ ...jobRecord(r), pid: r.pid }))
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n
  }

  private append(jobId: string, body: EventBody): JobEvent {
    const at = now()
    const { type, ...payload } = body
    const seq = this.db
      .prepare('INSERT INTO job_events (job_id, type, payload_json, at) VALUES (?, ?, ?, ?)')
      .run(jobId, type, toJson(payload), at).lastInsertRowid
    return { ...body, seq: Number(seq), jobId, at } as JobEvent
  }

  /** Marks a job running (a new attempt) and records 'started'. */
  start(id: string, pid: number | null): JobEvent {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE jobs SET status = 'running', attempt = attempt + 1, pid = ?, started_at = ?, finished_at = NULL,
        error = NULL, exit_reason = NULL, resumable = 0 WHERE id = ?`
          )
          .run(pid, now(), id)
        return this.append(id, { type: 'started', attempt: this.get(id)!.attempt })
      })
      .immediate()
  }

  /** Records the engine pid once the process exists. */
  setPid(id: string, pid: number | null): void {
    this.db.prepare('UPDATE jobs SET pid = ? WHERE id = ?').run(pid, id)
  }

  progress(id: string, p: JobProgress): JobEvent {
    return this.db
      .transaction(() => {
        this.db
          .prepare('UPDATE jobs SET progress = ?, phase = ?, eta_seconds = ? WHERE id = ?')
          .run(Math.min(1, Math.max(0, p.fraction)), p.phase, p.etaSeconds, id)
        return this.append(id, { type: 'progress', progress: p })
      })
      .immediate()
  }

  log(id: string, level: LogLevel, message: string): JobEvent {
    return this.append(id, { type: 'log', level, message })
  }

  /** The job's resumable state (its last checkpoint), written by the job itself. */
  setState(id: string, state: Json): void {
    this.db.prepare('UPDATE jobs SET state_json = ? WHERE id = ?').run(toJson(state), id)
  }

  getState(id: string): Json {
    const row = this.db.prepare('SELECT state_json FROM jobs WHERE id = ?').get(id) as
      { state_json: string } | undefined
    return row ? fromJson(row.state_json) : null
  }

  complete(id: string, result: Json): JobEvent {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE jobs SET status = 'completed', progress = 1, eta_seconds = 0, result_json = ?, resumable = 0, pid = NULL,
        finished_at = ? WHERE id = ?`
          )
          .run(toJson(result), now(), id)
        return this.append(id, { type: 'completed', result })
      })
      .immediate()
  }

  fail(id: string, error: string, exitReason: string | null, resumable: boolean): JobEvent {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE jobs SET status = 'failed', error = ?, exit_reason = ?, resumable = ?, pid = NULL, eta_seconds = NULL,
        finished_at = ? WHERE id = ?`
          )
          .run(error, exitReason, resumable ? 1 : 0, now(), id)
        return this.append(id, { type: 'failed', error, resumable, exitReason })
      })
      .immediate()
  }

  cancel(id: string, resumable: boolean): JobEvent {
    return this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE jobs SET status = 'cancelled', resumable = ?, pid = NULL, eta_seconds = NULL, finished_at = ? WHERE id = ?`
          )
          .run(resumable ? 1 : 0, now(), id)
        return this.append(id, { type: 'cancelled', resumable })
      })
      .immediate()
  }

  /** Puts a failed/cancelled job back in the queue for a resume. */
  requeue(id: string): void {
    this.db
      .prepare(`UPDATE jobs SET status = 'queued', error = NULL, exit_reason = NULL, finished_at = NULL WHERE id = ?`)
      .run(id)
  }

  /** Recorded events, oldest first: of one job or all, after a sequence number. */
  events(opts: { jobId?: string; afterSeq?: number; limit?: number } = {}): JobEvent[] {
    const rows = this.db
      .prepare(
        'SELECT * FROM job_events WHERE (@job IS NULL OR job_id = @job) AND seq > @after ORDER BY seq LIMIT @limit'
      )
      .all({ job: opts.jobId ?? null, after: opts.afterSeq ?? 0, limit: opts.limit ?? 10_000 }) as EventRow[]
    return rows.map(eventRecord)
  }
}
