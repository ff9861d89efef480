/**
 * Plain records the app stores and shows: what the store's repositories return and what
 * the contract (api.ts) sends to the renderer. Types only, no runtime code.
 *
 * Conventions: ids are opaque strings with a kind prefix (`ds_`, `run_`, `mem_`, `soup_`,
 * `exp_`, `job_`); times are ISO-8601 UTC strings; paths are relative to the workspace
 * folder, with `/` separators (never absolute, so a workspace can move).
 */

/** A JSON value as stored in a `*_json` column. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Lifecycle of a dataset import. */
export type DatasetStatus = 'importing' | 'ready' | 'failed'

/** An imported dataset (its cache lives in `datasets/<id>/`). */
export interface DatasetRecord {
  id: string
  /** User-facing name. */
  name: string
  /** Importer that produced it (npz, idx, folder, csv, dicom, synthetic). */
  format: string
  /** 'single' (softmax) or 'multilabel' (per-label sigmoid). */
  task: 'single' | 'multilabel'
  status: DatasetStatus
  /** Class (or label) names in label-index order. */
  classes: string[]
  /** Images per split, e.g. `{ train: 1080, val: 120, test: 400 }`. */
  counts: Record<string, number>
  /** The full cache description (engine/data/types.ts DatasetMeta) as stored in meta.json. */
  meta: Json
  /** Cache folder relative to the workspace, e.g. `datasets/ds_x`. */
  dir: string
  /** Why the import failed (status 'failed'), else null. */
  error: string | null
  createdAt: string
  updatedAt: string
}

/** Lifecycle of a run, member or soup. */
export type WorkStatus = 'pending' | 'running' | 'done' | 'failed' | 'cancelled'

/** A Fission run: one plan (grid search, FGG, ...) on one dataset. */
export interface RunRecord {
  id: string
  name: string
  datasetId: string
  /** Plan kind, e.g. 'grid' or 'fgg'. */
  kind: string
  status: WorkStatus
  /** The run configuration as given (backbone, learning rates, seeds, epochs, ...). */
  config: Json
  createdAt: string
  updatedAt: string
}

/** One trained model of a run. */
export interface MemberRecord {
  id: string
  runId: string
  name: string
  /** Member this one was continued from (FGG lineage), or null for a base/grid model. */
  parentId: string | null
  /** Hierarchical-soup group key (default: the learning rate as text), or null. */
  groupKey: string | null
  /** Hyperparameters, e.g. `{ lr: 1e-4, seed: 1, aug: 'heavy' }`. */
  hyperparams: Record<string, Json>
  /** Training epochs spent on this member (its own, not counting its parent's). */
  epochs: number
  /** Wall-clock training time in seconds. */
  wallSeconds: number
  /** tfjs backend that trained it ('tensorflow', 'wasm', 'cpu'), or null before training. */
  backend: string | null
  /** Checkpoint file relative to the workspace, or null before it exists. */
  checkpointPath: string | null
  status: WorkStatus
  /** Validation score on the run's selection metric, or null before evaluation. */
  valScore: number | null
  createdAt: string
  updatedAt: string
}

/** One metric value of one member at one epoch. */
export interface MetricRecord {
  memberId: string
  /** Epoch number, 1-based. */
  epoch: number
  /** e.g. 'train_loss', 'val_loss', 'val_accuracy', 'lr'. */
  name: string
  value: number
}

/** A soup: an average of members' (or other soups') weights. */
export interface SoupRecord {
  id: string
  runId: string
  name: string
  /** 'uniform', 'greedy', 'gou', 'gog', 'uou', 'uog', 'ensemble', ... */
  method: string
  /** Hyperparameter the members were grouped by (hierarchical soups), or null. */
  groupBy: string | null
  /** Group key for a local (per-group) soup, or null. */
  groupKey: string | null
  /** Metric used to select ingredients, e.g. 'accuracy', 'kappa', 'auroc'. */
  selectionMetric: string
  /** Validation score of the soup, or null before evaluation. */
  valScore: number | null
  /** Merged weights relative to the workspace, or null (e.g. ensembles). */
  checkpointPath: string | null
  /** Wall-clock seconds spent building it. */
  wallSeconds: number
  backend: string | null
  status: WorkStatus
  config: Json
  createdAt: string
}

/** One candidate of a soup: a member or a soup (hierarchical), whether it was kept, and its weight. */
export interface SoupIngredientRecord {
  soupId: string
  /** Order tried (greedy: best first), 0-based. */
  position: number
  memberId: string | null
  childSoupId: string | null
  /** Weight in the average, in [0, 1]; 0 when not kept. */
  weight: number
  kept: boolean
  /** Greedy: validation score of the soup tried with this candidate added, else null. */
  stepScore: number | null
}

/** Which split of a dataset. */
export type SplitName = 'train' | 'val' | 'test'

/** One score: a model (member or soup) on a dataset split, with a bootstrap confidence interval. */
export interface EvaluationRecord {
  id: number
  memberId: string | null
  soupId: string | null
  datasetId: string
  split: string
  metric: string
  value: number
  /** Lower end of the 95% bootstrap CI, or null. */
  ciLo: number | null
  /** Upper end of the 95% bootstrap CI, or null. */
  ciHi: number | null
  /** Images evaluated. */
  n: number | null
  createdAt: string
}

/** One exported model file. */
export interface ExportRecord {
  id: string
  soupId: string | null
  memberId: string | null
  /** e.g. 'onnx', 'tfjs'. */
  format: string
  /** File relative to the workspace (under exports/). */
  path: string
  bytes: number
  sha256: string
  createdAt: string
}

/** Lifecycle of a job. `failed` and `cancelled` jobs may be resumable. */
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled'

/** A unit of long work run in its own engine process. */
export interface JobRecord {
  id: string
  /** Job kind (see src/main/host/jobs/index.ts), e.g. 'selftest'. */
  kind: string
  status: JobStatus
  /** Parameters as validated by the kind's schema. */
  params: Json
  /** Fraction done, in [0, 1]. */
  progress: number
  /** What it is doing now, e.g. 'epoch 3/10'. */
  phase: string | null
  /** Estimated seconds left, or null when unknown. */
  etaSeconds: number | null
  /** Whether `resumeJob` may continue it from its saved state. */
  resumable: boolean
  /** 1 for the first execution, +1 per resume. */
  attempt: number
  /** The job's resumable state (last checkpoint), as set by the job. */
  state: Json
  /** Result of a completed job. */
  result: Json
  /** One-line reason of a failure, else null. */
  error: string | null
  /** How the engine process ended when it died, e.g. 'killed by SIGKILL', else null. */
  exitReason: string | null
  /** Run this job works for, if any. */
  runId: string | null
  /** Dataset this job works for, if any. */
  datasetId: string | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
}

/** Kinds of job event, in the order they can occur. */
export type JobEventType = 'started' | 'progress' | 'log' | 'completed' | 'failed' | 'cancelled'

/** Progress report of a running job. */
export interface JobProgress {
  /** Fraction done, in [0, 1]. */
  fraction: number
  /** What it is doing now, e.g. 'epoch 3/10'. */
  phase: string
  /** Estimated seconds left, or null when unknown. */
  etaSeconds: number | null
  /** Optional metrics at this point, e.g. `{ epoch: 3, val_loss: 0.41 }`. */
  metrics?: Record<string, number>
}

/** Log levels of job logs. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** A job event as recorded in job_events and streamed to subscribers. */
export type JobEvent = {
  /** Increasing event number (unique in the workspace). */
  seq: number
  jobId: string
  at: string
} & (
  | { type: 'started'; attempt: number }
  | { type: 'progress'; progress: JobProgress }
  | { type: 'log'; level: LogLevel; message: string }
  | { type: 'completed'; result: Json }
  | { type: 'failed'; error: string; resumable: boolean; exitReason: string | null }
  | { type: 'cancelled'; resumable: boolean }
)
