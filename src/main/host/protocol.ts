/** Messages between the app (JobHost) and an engine process (engine-process.ts). */
import type { Json, JobProgress, LogLevel } from '../../shared/records'

/** App → engine. */
export type ToEngine =
  { t: 'run'; jobId: string; kind: string; params: Json; workspaceDir: string; attempt: number } | { t: 'cancel' }

/** Engine → app. Exactly one of done / error / cancelled ends a job. */
export type FromEngine =
  | { t: 'progress'; progress: JobProgress }
  | { t: 'log'; level: LogLevel; message: string }
  | { t: 'done'; result: Json }
  | { t: 'error'; message: string }
  | { t: 'cancelled' }
