/**
 * What a job kind is and what it gets to work with. A kind is a plain config object
 * (`defineJob({...})`) listed in ./index.ts; nothing registers itself on import.
 *
 * The parent process imports the registry only to validate params, so a kind's heavy
 * engine code (tfjs, ...) must be imported INSIDE `run` with `await import(...)`.
 */
import type { z } from 'zod'
import type { Json, JobProgress, LogLevel } from '../../../shared/records'
import type { Store } from '../../store'
import type { Workspace } from '../../workspace'
import type { jobParamSchemas, JobKindId } from '../../../shared/jobs'
import type { JobResults } from '../../../shared/job-results'

/** The resumable state of a job, persisted to its row at each `set` (survives a crash). */
export interface JobState<S extends Json = Json> {
  /** The last state set (by this attempt or an earlier one), or null on a fresh start. */
  get(): S | null
  /** Persists `state` now (synchronously, durable before it returns). */
  set(state: S): void
}

/** Given to `run` in the engine process. */
export interface JobContext<S extends Json = Json> {
  jobId: string
  /** 1 on the first execution, 2+ when resumed. */
  attempt: number
  workspace: Workspace
  /** A store opened in the engine process (WAL: the app's connection works alongside). */
  store: Store
  /** Aborted when the job is cancelled: check it between steps (`signal.throwIfAborted()`). */
  signal: AbortSignal
  /**
   * Reports progress (recorded as a job event and streamed). Reports without `metrics` that
   * come less than 200 ms after the previous one, in the same phase, are dropped; so call it
   * freely (e.g. every iteration) and attach metrics at epoch ends.
   */
  progress(p: JobProgress): void
  /** Records a log line for the job. */
  log(level: LogLevel, message: string): void
  /** Resumable state: save enough after each checkpoint to continue from it. */
  state: JobState<S>
}

/** One kind of job (R: what `run` answers; erased to `unknown` in the registry). */
export interface JobKind<P extends z.ZodType = z.ZodType, S extends Json = Json, R = unknown> {
  /** Name used by startJob and the CLI, e.g. 'selftest'. */
  kind: string
  /** One line for listings. */
  description: string
  /** Schema of the params; validated in the parent (typed errors) and again in the engine. */
  params: P
  /** Whether a failed or cancelled job of this kind may be resumed (default true). */
  resumable?: boolean
  /** Run/dataset the job works for, recorded on the job row for listings. */
  links?(params: z.output<P>): { runId?: string | null; datasetId?: string | null }
  /** Does the work in the engine process; returns the job's result (JSON, typed per kind in shared/job-results.ts). */
  run(ctx: JobContext<S>, params: z.output<P>): Promise<R>
}

/**
 * Declares a job kind: its params schema is the kind's in shared/jobs.ts, `run` gets params typed
 * from it (and state typed S) and must answer the kind's result type (shared/job-results.ts).
 * Returns the kind with those types erased, ready to list in ./index.ts (the host parses params
 * with the same schema before calling run).
 */
export function defineJob<K extends JobKindId, S extends Json = Json>(
  kind: JobKind<(typeof jobParamSchemas)[K], S, JobResults[K]> & { kind: K }
): TypedJobKind<K, S> {
  return kind
}

/** A job kind as defined: params, state and result typed (assignable to the registry's {@link JobKind}). */
export type TypedJobKind<K extends JobKindId, S extends Json = Json> = JobKind<
  (typeof jobParamSchemas)[K],
  S,
  JobResults[K]
> & { kind: K }
