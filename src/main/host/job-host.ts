/**
 * The app side of jobs: validates and records jobs, runs each in its own engine process
 * (through an injectable EngineLauncher), records every transition and event in the store,
 * and streams events to subscribers. If an engine process dies (SIGKILL, out of memory, a
 * native abort) the job is marked failed + resumable with the exit reason; the app goes on.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { ApiCallError, describeIssues, fieldIssues } from '../../shared/api'
import type { Json, JobEvent, JobRecord } from '../../shared/records'
import type { Store } from '../store'
import type { Workspace } from '../workspace'
import { findJobKind, jobKinds as defaultKinds, type JobKind } from './jobs'
import { forkLauncher, type EngineLauncher, type EngineProcess } from './launcher'
import { preflight } from './preflight'
import type { FromEngine } from './protocol'

/** Options of a JobHost. */
export interface JobHostOptions {
  workspace: Workspace
  store: Store
  /** Starts engine processes (default: child_process.fork with tsx). */
  launcher?: EngineLauncher
  /** Job kinds (default: the registry in ./jobs). */
  kinds?: readonly JobKind[]
  /** Engine processes at once; more jobs wait queued (default: CPU count). */
  maxConcurrent?: number
  /** Seconds a cancelled job may take to stop before its process is killed (default 20). */
  cancelGraceSeconds?: number
  /** Where engine processes' stdout/stderr text goes (default: this process's stderr). */
  onEngineOutput?: (jobId: string, text: string) => void
}

interface Running {
  proc: EngineProcess
  cancelRequested: boolean
  /** Set once the engine reported done/error/cancelled. */
  outcome?: FromEngine
  /** Last lines the process printed (for the failure message of a crash). */
  tail: string[]
  exited: Promise<void>
  /** When the last progress event was recorded (ms since epoch), and its phase. */
  lastProgressAt: number
  lastPhase: string
}

/** Minimum time between two recorded progress events of a job without metrics, ms. */
const PROGRESS_INTERVAL_MS = 200

const TERMINAL = new Set(['completed', 'failed', 'cancelled'])

function exitReason(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal)
    return `engine process killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory or killed)' : signal === 'SIGABRT' ? ' (native abort)' : ''}`
  return `engine process exited with code ${code}`
}

/** The line of a dead process's output that says what happened (V8's "FATAL ERROR", an abort message), else its last line. */
function crashMessage(tail: string[]): string {
  const telling = tail.filter(
    (l) => /fatal|out of memory|error|abort|assert|segmentation/i.test(l) && !/^\s*\d+: 0x/.test(l)
  )
  return (telling.at(-1) ?? tail.at(-1) ?? '').trim().slice(0, 300)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A killed engine whose parent has not reaped it yet still answers signal 0: on Linux,
  // a zombie (state Z) or dead (X) process is gone for our purposes.
  if (process.platform !== 'linux') return true
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

export class JobHost {
  private readonly store: Store
  private readonly workspace: Workspace
  private readonly launcher: EngineLauncher
  private readonly kinds: readonly JobKind[]
  private readonly maxConcurrent: number
  private readonly graceMs: number
  private readonly onEngineOutput: (jobId: string, text: string) => void
  private readonly running = new Map<string, Running>()
  private readonly queue: string[] = []
  private readonly listeners = new Set<(e: JobEvent) => void>()
  private readonly waiters = new Map<string, Array<(j: JobRecord) => void>>()
  private closed = false

  constructor(o: JobHostOptions) {
    this.store = o.store
    this.workspace = o.workspace
    this.launcher = o.launcher ?? forkLauncher()
    this.kinds = o.kinds ?? defaultKinds
    this.maxConcurrent = Math.max(1, o.maxConcurrent ?? availableParallelism())
    this.graceMs = (o.cancelGraceSeconds ?? 20) * 1000
    this.onEngineOutput = o.onEngineOutput ?? ((_id, text) => process.stderr.write(text))
  }

  /** The kinds this host runs. */
  listKinds(): Array<{ kind: string; description: string }> {
    return this.kinds.map((k) => ({ kind: k.kind, description: k.description }))
  }

  /**
   * Marks jobs left running by an app or engine that is gone as failed + resumable.
   * Jobs whose recorded process is still alive (another app instance) are left alone.
   */
  recoverOrphans(): JobRecord[] {
    const recovered: JobRecord[] = []
    for (const j of this.store.jobs.unfinished()) {
      if (this.running.has(j.id) || this.queue.includes(j.id)) continue
      if (j.pid !== null && isAlive(j.pid)) continue
      this.emit(
        this.store.jobs.fail(
          j.id,
          'the app stopped while this job was running',
          'app or engine process ended unexpectedly',
          this.isResumable(j.kind)
        )
      )
      recovered.push(this.store.jobs.get(j.id)!)
    }
    return recovered
  }

  /** Validates params, records the job (queued) and starts it when a slot is free. */
  start(kindName: string, params: unknown): JobRecord {
    const kind = this.requireKind(kindName)
    const parsed = kind.params.safeParse(params ?? {})
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error, 'params')
      throw new ApiCallError({
        code: 'invalid_request',
        message: `invalid params for job '${kind.kind}': ${describeIssues(issues)}`,
        issues
      })
    }
    if (this.workspace.readOnly)
      throw new ApiCallError({
        code: 'unavailable',
        message: `${this.workspace.readOnly}: jobs cannot run here; copy the workspace to a writable folder (or remount it read-write) and open it there`
      })
    const links = kind.links?.(parsed.data) ?? {}
    // Checked and recorded in one write transaction: two app instances cannot both start a writer of one run.
    const job = this.store.transaction(() => {
      const refusal = preflight(
        this.store,
        kind.kind,
        parsed.data as Record<string, unknown>,
        links.runId ?? (parsed.data as { runId?: string }).runId
      )
      if (refusal) throw new ApiCallError({ code: 'conflict', message: refusal })
      return this.store.jobs.create({
        kind: kind.kind,
        params: parsed.data as Json,
        runId: links.runId,
        datasetId: links.datasetId
      })
    })
    // Queued jobs carry this host's pid, so another app instance leaves them alone.
    this.store.jobs.setPid(job.id, process.pid)
    this.enqueue(job.id)
    return this.store.jobs.get(job.id)!
  }

  /** Continues a failed or cancelled resumable job from its saved state (a new attempt). */
  resume(id: string): JobRecord {
    const job = this.requireJob(id)
    if (!TERMINAL.has(job.status) || job.status === 'completed') {
      throw new ApiCallError({
        code: 'conflict',
        message: `job ${id} is ${job.status}; only a failed or cancelled job can be resumed`
      })
    }
    if (!job.resumable)
      throw new ApiCallError({ code: 'conflict', message: `job ${id} (${job.kind}) cannot be resumed` })
    if (this.workspace.readOnly)
      throw new ApiCallError({
        code: 'unavailable',
        message: `${this.workspace.readOnly}: jobs cannot run here; copy the workspace to a writable folder (or remount it read-write) and open it there`
      })
    const kind = this.requireKind(job.kind)
    const refusal = preflight(this.store, kind.kind, (job.params ?? {}) as Record<string, unknown>, job.runId)
    if (refusal) throw new ApiCallError({ code: 'conflict', message: refusal })
    this.store.jobs.requeue(id)
    this.store.jobs.setPid(id, process.pid)
    this.enqueue(id)
    return this.store.jobs.get(id)!
  }

  /** Asks a job to stop: queued → cancelled at once; running → the engine stops within one step. */
  cancel(id: string): JobRecord {
    const job = this.requireJob(id)
    const queuedAt = this.queue.indexOf(id)
    if (queuedAt >= 0) {
      this.queue.splice(queuedAt, 1)
      this.finish(id, this.store.jobs.cancel(id, this.isResumable(job.kind)))
    } else if (this.running.has(id)) {
      const r = this.running.get(id)!
      if (!r.cancelRequested) {
        r.cancelRequested = true
        r.proc.send({ t: 'cancel' })
        const timer = setTimeout(() => r.proc.kill('SIGKILL'), this.graceMs)
        void r.exited.then(() => clearTimeout(timer))
      }
    } else if (job.status === 'running') {
      // Run by another app instance (e.g. the CLI while the window is open): its engine
      // process takes SIGTERM as a cancel request, and that instance records the outcome.
      const pid = this.store.jobs.unfinished().find((j) => j.id === id)?.pid
      if (!pid || !isAlive(pid))
        throw new ApiCallError({
          code: 'conflict',
          message: `job ${id} is marked running but its engine process is gone; reopen the workspace to recover it`
        })
      process.kill(pid, 'SIGTERM')
    } else if (job.status === 'queued') {
      throw new ApiCallError({
        code: 'conflict',
        message: `job ${id} is queued in another app instance; cancel it there`
      })
    }
    return this.store.jobs.get(id)!
  }

  /** Listens to every job event; returns the function that stops listening. */
  subscribe(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Resolves with the job's record once it has completed, failed or been cancelled (a job of
   * another app instance is watched through the store, every `pollMs`).
   */
  wait(id: string, pollMs = 500): Promise<JobRecord> {
    const job = this.requireJob(id)
    const ours = this.running.has(id) || this.queue.includes(id)
    if (TERMINAL.has(job.status) && !ours) return Promise.resolve(job)
    if (!ours) {
      return new Promise((resolve) => {
        const timer = setInterval(() => {
          const now = this.store.jobs.get(id)
          if (!now || TERMINAL.has(now.status)) {
            clearInterval(timer)
            resolve(now ?? job)
          }
        }, pollMs)
      })
    }
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? []
      list.push(resolve)
      this.waiters.set(id, list)
    })
  }

  /** Jobs whose engine process this host is running now. */
  runningIds(): string[] {
    return [...this.running.keys()]
  }

  /** Cancels queued jobs, kills running engine processes (their jobs: failed, resumable) and waits for them. */
  async close(): Promise<void> {
    this.closed = true
    for (const id of this.queue.splice(0)) {
      const job = this.store.jobs.get(id)
      if (job) this.finish(id, this.store.jobs.cancel(id, this.isResumable(job.kind)))
    }
    const exits = [...this.running.values()].map((r) => {
      r.proc.kill('SIGKILL')
      return r.exited
    })
    await Promise.all(exits)
  }

  private requireKind(kind: string): JobKind {
    const k = findJobKind(kind, this.kinds)
    if (!k) {
      throw new ApiCallError({
        code: 'invalid_request',
        message: `unknown job kind '${kind}' (known: ${this.kinds.map((x) => x.kind).join(', ')})`,
        issues: [{ path: 'kind', message: 'unknown job kind' }]
      })
    }
    return k
  }

  private requireJob(id: string): JobRecord {
    const job = this.store.jobs.get(id)
    if (!job) throw new ApiCallError({ code: 'not_found', message: `job ${id} not found` })
    return job
  }

  private isResumable(kind: string): boolean {
    return findJobKind(kind, this.kinds)?.resumable !== false
  }

  private emit(e: JobEvent): void {
    for (const l of this.listeners) {
      try {
        l(e)
      } catch (err) {
        process.stderr.write(`job event listener failed: ${(err as Error).message}\n`)
      }
    }
  }

  private finish(id: string, e: JobEvent): void {
    this.emit(e)
    const job = this.store.jobs.get(id)!
    for (const w of this.waiters.get(id) ?? []) w(job)
    this.waiters.delete(id)
  }

  private enqueue(id: string): void {
    if (this.closed) throw new ApiCallError({ code: 'unavailable', message: 'the job host is shutting down' })
    this.queue.push(id)
    this.pump()
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.maxConcurrent && this.queue.length > 0)
      this.launch(this.queue.shift()!)
  }

  private launch(id: string): void {
    const job = this.store.jobs.get(id)!
    let proc: EngineProcess
    try {
      proc = this.launcher()
    } catch (e) {
      this.emit(this.store.jobs.start(id, null))
      this.finish(
        id,
        this.store.jobs.fail(
          id,
          `could not start the engine process: ${(e as Error).message}`,
          null,
          this.isResumable(job.kind)
        )
      )
      return
    }
    let resolveExit!: () => void
    const r: Running = {
      proc,
      cancelRequested: false,
      tail: [],
      exited: new Promise((res) => (resolveExit = res)),
      lastProgressAt: 0,
      lastPhase: ''
    }
    this.running.set(id, r)
    const started = this.store.jobs.start(id, proc.pid ?? null)
    this.emit(started)
    proc.onOutput((text) => {
      r.tail.push(...text.split('\n').filter((l) => l.trim() !== ''))
      r.tail.splice(0, Math.max(0, r.tail.length - 200))
      this.onEngineOutput(id, text)
    })
    proc.onMessage((m) => this.onEngineMessage(id, r, m))
    proc.onExit((code, signal) => {
      this.running.delete(id)
      try {
        this.settle(id, job.kind, r, code, signal)
      } finally {
        resolveExit()
        this.pump()
      }
    })
    proc.send({
      t: 'run',
      jobId: id,
      kind: job.kind,
      params: job.params,
      workspaceDir: this.workspace.dir,
      attempt: (started as { attempt: number }).attempt
    })
  }

  private onEngineMessage(id: string, r: Running, m: FromEngine): void {
    // Nothing is recorded after the outcome, or once the job has been settled.
    if (r.outcome || this.running.get(id) !== r) return
    if (m.t === 'progress') {
      // Keep the event log readable when a job reports every iteration: plain fraction
      // updates closer than PROGRESS_INTERVAL_MS are dropped; ones with metrics, a new
      // phase or the end are always kept.
      const now = Date.now()
      const p = m.progress
      if (!p.metrics && p.fraction < 1 && p.phase === r.lastPhase && now - r.lastProgressAt < PROGRESS_INTERVAL_MS)
        return
      r.lastProgressAt = now
      r.lastPhase = p.phase
      this.emit(this.store.jobs.progress(id, p))
    } else if (m.t === 'log') this.emit(this.store.jobs.log(id, m.level, m.message))
    else r.outcome = m
  }

  /** Records how a job ended once its process is gone. */
  private settle(id: string, kind: string, r: Running, code: number | null, signal: NodeJS.Signals | null): void {
    const resumable = this.isResumable(kind)
    const o = r.outcome
    if (o?.t === 'done') this.finish(id, this.store.jobs.complete(id, o.result))
    else if (o?.t === 'cancelled') this.finish(id, this.store.jobs.cancel(id, resumable))
    else if (o?.t === 'error') this.finish(id, this.store.jobs.fail(id, o.message, null, resumable))
    else if (r.cancelRequested) this.finish(id, this.store.jobs.cancel(id, resumable))
    else if (this.closed)
      this.finish(id, this.store.jobs.fail(id, 'the app closed while this job was running', 'app closed', resumable))
    else {
      const reason = exitReason(code, signal)
      const said = crashMessage(r.tail)
      this.finish(id, this.store.jobs.fail(id, said ? `${reason}: ${said}` : reason, reason, resumable))
    }
  }
}
