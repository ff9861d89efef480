import { defineStore } from 'pinia'
import { computed, ref, shallowRef, triggerRef } from 'vue'
import type { JobEvent, JobProgress, JobRecord, Json } from '../../../shared/api'
import type { JobKindId, JobParamsInput } from '../../../shared/jobs'
import { isJobOf, type JobKindName, type JobRecordOf } from '../../../shared/job-results'
import { api } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'

/** One progress report of a job, as received. */
export interface ProgressPoint extends JobProgress {
  /** Time received, ms since the epoch. */
  at: number
}

/** A log line of a job. */
export interface LogLine {
  level: string
  message: string
  at: string
}

/** How many progress points and log lines are kept per job (older ones are dropped). */
const KEEP = 5000

/** The run a job works for: its link, else the run id it saved in its state or result (fission creates its run). */
export function runOf(job: JobRecord): string | null {
  if (job.runId) return job.runId
  const field = (v: Json, key: string): Json | undefined =>
    v && typeof v === 'object' && !Array.isArray(v) ? v[key] : undefined
  const fromState = field(job.state, 'runId')
  const fromResult = field(field(job.result, 'run') ?? null, 'id')
  return typeof fromState === 'string' ? fromState : typeof fromResult === 'string' ? fromResult : null
}

/** Every job the session knows, live: records, progress history and logs, fed by `jobEvent`. */
export const useJobsStore = defineStore('jobs', () => {
  /** Job records by id (the latest known state). */
  const jobs = ref<Record<string, JobRecord>>({})
  /** Progress reports by job id, oldest first (large: not deeply reactive). */
  const progress = shallowRef<Record<string, ProgressPoint[]>>({})
  /** Log lines by job id, oldest first. */
  const logs = shallowRef<Record<string, LogLine[]>>({})
  /** The last error of a job action (start, cancel, resume), or null. */
  const error = ref<UiError | null>(null)
  /** Event numbers applied (live events and the subscription backlog may overlap). */
  const seen = new Set<number>()
  /** Jobs whose first progress report has been seen. */
  const progressed = new Set<string>()
  /** Highest event number applied. */
  let lastSeq = 0
  let unsubscribe: (() => void) | undefined

  /** Applies one event to the records (ignores events already applied). */
  function apply(event: JobEvent): void {
    if (seen.has(event.seq)) return
    seen.add(event.seq)
    lastSeq = Math.max(lastSeq, event.seq)
    const job = jobs.value[event.jobId]
    if (event.type === 'progress') {
      const list = progress.value[event.jobId] ?? []
      list.push({ ...event.progress, at: Date.parse(event.at) || Date.now() })
      if (list.length > KEEP) list.splice(0, list.length - KEEP)
      progress.value[event.jobId] = list
      triggerRef(progress)
      if (job)
        Object.assign(job, {
          progress: event.progress.fraction,
          phase: event.progress.phase,
          etaSeconds: event.progress.etaSeconds,
          status: 'running'
        })
    } else if (event.type === 'log') {
      const list = logs.value[event.jobId] ?? []
      list.push({ level: event.level, message: event.message, at: event.at })
      if (list.length > KEEP) list.splice(0, list.length - KEEP)
      logs.value[event.jobId] = list
      triggerRef(logs)
    } else if (job) {
      if (event.type === 'started') Object.assign(job, { status: 'running', attempt: event.attempt })
      if (event.type === 'completed')
        Object.assign(job, { status: 'completed', progress: 1, result: event.result, etaSeconds: null })
      if (event.type === 'failed')
        Object.assign(job, {
          status: 'failed',
          error: event.error,
          resumable: event.resumable,
          exitReason: event.exitReason
        })
      if (event.type === 'cancelled') Object.assign(job, { status: 'cancelled', resumable: event.resumable })
    }
    // Re-read the record when it is new, finished, or on its first progress (its saved state, e.g. the run it made, is set by then).
    const firstProgress = event.type === 'progress' && !progressed.has(event.jobId)
    if (event.type === 'progress') progressed.add(event.jobId)
    if (!job || firstProgress || event.type === 'completed' || event.type === 'failed') void refresh(event.jobId)
  }

  /** Re-reads one job record. */
  async function refresh(id: string): Promise<void> {
    try {
      jobs.value[id] = await api().getJob({ id })
    } catch {
      // The event already told what happened; a failed re-read changes nothing shown.
    }
  }

  /** Loads recent jobs and starts listening to job events (once). */
  async function connect(): Promise<void> {
    try {
      for (const job of await api().listJobs({ limit: 200 })) jobs.value[job.id] = job
      if (!unsubscribe) {
        unsubscribe = api().on('jobEvent', apply)
        const { backlog } = await api().subscribeJobs({ afterSeq: lastSeq })
        for (const event of backlog) apply(event)
      }
    } catch (e) {
      error.value = toUiError('Listening to job progress', e)
    }
  }

  /** Starts a job; returns its record, or null (with `error` set) when it was refused. */
  async function start<K extends JobKindId>(kind: K, params: JobParamsInput<K>): Promise<JobRecordOf<K> | null> {
    try {
      const job = await api().startJob({ kind, params })
      jobs.value[job.id] = job
      error.value = null
      return job
    } catch (e) {
      error.value = toUiError('Starting the job', e)
      return null
    }
  }

  /** Asks a job to stop. */
  async function cancel(id: string): Promise<void> {
    try {
      jobs.value[id] = await api().cancelJob({ id })
    } catch (e) {
      error.value = toUiError('Cancelling the job', e)
    }
  }

  /** Continues a failed or cancelled job from its last checkpoint. */
  async function resume(id: string): Promise<void> {
    try {
      jobs.value[id] = await api().resumeJob({ id })
    } catch (e) {
      error.value = toUiError('Resuming the job', e)
    }
  }

  /** Jobs of one kind, newest first (a getter returning a function: views read it, never stub it). */
  /** The jobs of one kind, newest first, their results typed as that kind's. */
  const ofKind = computed(
    () =>
      <K extends JobKindName>(kind: K): JobRecordOf<K>[] =>
        Object.values(jobs.value)
          .filter((j): j is JobRecord & JobRecordOf<K> => isJobOf(j, kind))
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
  )

  return { jobs, progress, logs, error, apply, connect, start, cancel, resume, refresh, ofKind }
})
