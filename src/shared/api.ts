/**
 * The contract between the main side (store, jobs) and every client (renderer via Electron
 * IPC, browser via the loopback bridge, tests), declared ONCE.
 *
 * - `commands`: name → { request: zod schema (validated at run time on the main side),
 *   response: phantom TS type }. The handlers live in src/main/host/handlers.ts.
 * - `events`: name → phantom payload type, pushed by main to subscribed clients.
 * - `createClient(transport)`: the typed `Api` object over any `Transport` (the preload's IPC
 *   transport, the bridge's WebSocket transport from bridge-client.ts, an in-process one).
 *
 * Adding a command = one entry here + one handler in src/main/host/handlers.ts (tsc fails
 * until the handler exists). Both transports and the client pick it up from this object.
 *
 * Errors: a call that fails rejects with `ApiCallError` (code, message, field issues); on the
 * wire a call always answers a `Reply` envelope, never a thrown exception.
 *
 * This file may import zod and the other src/shared modules only (nothing from main/ or renderer/).
 */
import { z } from 'zod'
import type {
  DatasetRecord,
  EvaluationRecord,
  ExportRecord,
  JobEvent,
  JobRecord,
  MemberRecord,
  MetricRecord,
  RunRecord,
  SoupIngredientRecord,
  SoupRecord
} from './records'
import type {
  BackendReport,
  CompareResult,
  DatasetInspection,
  JobRecordOf,
  Preprocessing,
  WeightsOrigin
} from './job-results'
import type { JobKindId, StartJobRequest, StartJobRequestOf } from './jobs'
import { fissionParams } from './jobs'
import { METRIC_IDS } from './vocabulary'

export type * from './records'
export type * from './job-results'

/** Phantom marker for a TS-only type in the declaration (no run-time value). */
function type<T>(): T {
  return undefined as T
}

/** One command: its request schema and (type-only) response. */
interface CommandSpec<Req extends z.ZodType, Res, In = z.input<Req>> {
  /** One line for docs and `--help`. */
  description: string
  request: Req
  response: Res
  /** Phantom: what a client may send, when narrower than the schema checks at run time (startJob: per kind). */
  input?: In
}

function command<Req extends z.ZodType, Res, In = z.input<Req>>(
  spec: CommandSpec<Req, Res, In>
): CommandSpec<Req, Res, In> {
  return spec
}

/** An id as sent by clients: non-empty, short, printable. */
const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id (letters, digits, _ and -)')
/** Page size for lists (1–1000, default 200). */
const limit = z.number().int().min(1).max(1000).default(200)
const none = z.object({}).strict()

/** What `workspaceInfo` answers. */
export interface WorkspaceInfo {
  /** Absolute workspace folder on this machine (shown to the user, never exported). */
  dir: string
  /** Database schema version (PRAGMA user_version). */
  schemaVersion: number
  /** App version (package.json). */
  appVersion: string
  counts: { datasets: number; runs: number; members: number; soups: number; jobs: number }
  /** Why the workspace is open read-only (read-only file system, folder or database file); absent when writable. */
  readOnly?: string
}

/** What `getRun` answers. */
export interface RunDetail {
  run: RunRecord
  members: MemberRecord[]
  soups: SoupRecord[]
}

/** What `getSoup` answers. */
export interface SoupDetail {
  soup: SoupRecord
  ingredients: SoupIngredientRecord[]
}

/** A job kind the main side can run. */
export interface JobKindInfo {
  kind: string
  description: string
}

/** One entry of a browsed folder (names only, never contents). */
export interface FolderEntry {
  name: string
  kind: 'dir' | 'file'
}

/** What `browseFolder` answers. */
export interface FolderListing {
  /** Absolute folder listed. */
  path: string
  /** Its parent, or null at a root. */
  parent: string | null
  entries: FolderEntry[]
  /** True when more entries exist than were returned. */
  truncated: boolean
}

/** One check of the start-up self-check. */
export interface SelfCheckItem {
  /** 'database', 'workspace', 'backend' or 'kernels'. */
  id: string
  label: string
  /** 'fail': the app cannot work; 'warn': it works, slower or limited. */
  status: 'ok' | 'warn' | 'fail'
  /** What was found, in a sentence. */
  detail: string
  /** What to do about a warning or failure. */
  action?: string
}

/** What `selfCheck` answers: every check, and whether any failed. */
export interface SelfCheckReport {
  ok: boolean
  checks: SelfCheckItem[]
}

/** An imported pretrained network (`models import`): origin file name and SHA-256, never a path. */
export interface PretrainedNetwork {
  /** `pt-…`; usable as a run's `from`. */
  id: string
  name: string
  arch: string
  /** Outputs of its (kept) head. */
  numClasses: number
  origin: WeightsOrigin
  /** Input the weights expect: size, channel order, mean and std after x/255. */
  preprocessing: Preprocessing
  tensors: { matched: number; reshaped: number; skipped: number }
  importedAt: string
}

/** What `choosePath` answers: the chosen path, or null when the user cancelled. */
export interface ChosenPath {
  path: string | null
}

/** What `modelCurves` answers: a model's confusion matrix and ROC curves on a split. */
export interface ModelCurvesReport {
  modelId: string
  /** 'member' or 'soup'. */
  modelKind: 'member' | 'soup'
  split: string
  task: 'single' | 'multilabel'
  classes: string[]
  /** Images scored. */
  n: number
  /** counts[true class][predicted class] summing to n (single-label); null for multi-label. */
  confusion: number[][] | null
  /** Multi-label: per label, true/false positives/negatives at the 0.5 threshold (non-blank images); null for single-label. */
  labelCounts: { name: string; tp: number; fp: number; fn: number; tn: number }[] | null
  /** One-vs-rest curve per class (per label) with both positives and negatives; rates in [0, 1]. */
  roc: { name: string; points: { fpr: number; tpr: number }[]; auc: number; positives: number }[]
  /** The AUROC the tables report (macro over classes), or null when undefined. */
  auc: number | null
  /** Classes without a curve, and why. */
  notes: string[]
}

/** What `compareMethods` answers: a paired bootstrap of metric(a) − metric(b) on the same test images. */
export interface MethodComparison extends CompareResult {
  a: string
  b: string
  /** Metric id (one of METRIC_IDS). */
  metric: string
}

/** What `estimateRun` answers: a plan's size and expected time before it starts. */
export interface RunEstimate {
  /** Models the plan produces. */
  members: number
  /** Groups (learning rates: FGG lineages / grid rate groups). */
  groups: number
  /** Training epochs over all trainings of the plan (linear probe included). */
  epochs: number
  /** Trainings (units) the plan runs, and how many engine processes run at once. */
  trainings: number
  workers: number
  /** Backend the run would use. */
  backend: string
  /** Training images of the dataset (one epoch). */
  trainImages: number
  /** Expected wall time, seconds, or null when no speed was measured yet. */
  seconds: number | null
  /** Where the speed comes from, in words (or why there is none). */
  basis: string
  /** Seconds per training image per epoch (median of past members), or null. */
  secondsPerImage: number | null
  /** Expected memory of each engine process (the architecture's measured footprint at the dataset's size), or null with `memoryNote` saying why. */
  memory: RunMemoryEstimate | null
  memoryNote?: string
}

/** Expected peak memory of one engine process training a plan (engine/models/memory.ts). */
export interface RunMemoryEstimate {
  /** Peak resident memory per engine process the plan keeps under, MiB (the given limit or the default). */
  limitMiB: number
  /** Whether the limit was given (else the default: 75% of the machine's memory / workers, at most 4 GiB). */
  limitGiven: boolean
  /** Expected peak resident memory per engine process, MiB. */
  expectedPeakMiB: number
  /** Training memory per image (activations and their gradients), MiB. */
  perImageMiB: number
  batchSize: number
  /** Images per forward/backward pass and passes per batch (1 when the batch fits). */
  microBatch: number
  microBatches: number
  /** False when not even one image fits; `message` then says what to change. */
  fits: boolean
  message: string | null
}

/** The plan settings `estimateRun` takes (the fission job's, all optional but the dataset and plan). */
const planRequest = fissionParams
  .pick({
    plan: true,
    lpEpochs: true,
    epochs: true,
    lrs: true,
    seeds: true,
    augs: true,
    fggEpochs: true,
    cycle: true,
    batchSize: true,
    memoryLimitMiB: true
  })
  .extend({ datasetId: id, arch: z.string().min(1).max(64).default('smallcnn') })
  .strict()

/** Every command of the app. */
export const commands = {
  workspaceInfo: command({
    description: 'Workspace folder, schema version and record counts.',
    request: none,
    response: type<WorkspaceInfo>()
  }),

  listDatasets: command({
    description: 'All datasets, newest first.',
    request: z.object({ limit }).strict(),
    response: type<DatasetRecord[]>()
  }),
  getDataset: command({
    description: 'One dataset.',
    request: z.object({ id }).strict(),
    response: type<DatasetRecord>()
  }),

  listRuns: command({
    description: 'Runs, newest first, optionally of one dataset.',
    request: z.object({ datasetId: id.optional(), limit }).strict(),
    response: type<RunRecord[]>()
  }),
  getRun: command({
    description: 'A run with its members and soups.',
    request: z.object({ id }).strict(),
    response: type<RunDetail>()
  }),

  listMembers: command({
    description: 'Members of a run.',
    request: z.object({ runId: id }).strict(),
    response: type<MemberRecord[]>()
  }),
  getMember: command({
    description: 'One member.',
    request: z.object({ id }).strict(),
    response: type<MemberRecord>()
  }),
  listMetrics: command({
    description: 'Per-epoch metrics of a member.',
    request: z.object({ memberId: id }).strict(),
    response: type<MetricRecord[]>()
  }),

  listSoups: command({
    description: 'Soups of a run.',
    request: z.object({ runId: id }).strict(),
    response: type<SoupRecord[]>()
  }),
  getSoup: command({
    description: 'A soup with its ingredients.',
    request: z.object({ id }).strict(),
    response: type<SoupDetail>()
  }),

  listEvaluations: command({
    description: 'Evaluations filtered by model, dataset or split.',
    request: z
      .object({
        memberId: id.optional(),
        soupId: id.optional(),
        runId: id.optional(),
        datasetId: id.optional(),
        split: z.string().max(32).optional(),
        limit: z.number().int().min(1).max(10000).default(1000)
      })
      .strict(),
    response: type<EvaluationRecord[]>()
  }),

  listExports: command({
    description: 'Exported model files, newest first.',
    request: z.object({ limit }).strict(),
    response: type<ExportRecord[]>()
  }),

  listJobKinds: command({
    description: 'Job kinds that startJob accepts.',
    request: none,
    response: type<JobKindInfo[]>()
  }),
  listJobs: command({
    description: 'Jobs, newest first.',
    request: z
      .object({ status: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']).optional(), limit })
      .strict(),
    response: type<JobRecord[]>()
  }),
  getJob: command({ description: 'One job.', request: z.object({ id }).strict(), response: type<JobRecord>() }),
  startJob: command({
    description: 'Start a job; answers at once with its record (queued). Params are checked by the kind.',
    request: z.object({ kind: z.string().min(1).max(64), params: z.unknown().default({}) }).strict(),
    input: type<StartJobRequest>(),
    response: type<JobRecord>()
  }),
  cancelJob: command({
    description: 'Ask a running job to stop (within one step).',
    request: z.object({ id }).strict(),
    response: type<JobRecord>()
  }),
  resumeJob: command({
    description: 'Continue a failed or cancelled job from its saved state.',
    request: z.object({ id }).strict(),
    response: type<JobRecord>()
  }),
  subscribeJobs: command({
    description:
      'Receive `jobEvent` events (of one job, or all). Answers the recorded events after `afterSeq` so none is missed.',
    request: z.object({ jobId: id.optional(), afterSeq: z.number().int().min(0).optional() }).strict(),
    response: type<{ backlog: JobEvent[] }>()
  }),
  unsubscribeJobs: command({
    description: 'Stop receiving job events.',
    request: none,
    response: type<{ ok: true }>()
  }),

  browseFolder: command({
    description:
      'List the names of the subfolders and files of a folder (read-only; for the folder picker). Default: home.',
    request: z.object({ path: z.string().max(4096).optional(), showHidden: z.boolean().default(false) }).strict(),
    response: type<FolderListing>()
  }),
  datasetThumbnails: command({
    description: 'A few small example images per class of a dataset, as PNG data URLs (pixels only, no patient data).',
    request: z.object({ id }).strict(),
    response: type<Record<string, string[]>>()
  }),
  inspectDataset: command({
    description:
      'What importing a file or folder would see: format, CSV columns and their roles, classes, counts, defaults.',
    request: z
      .object({
        path: z.string().min(1).max(4096),
        csv: z.string().max(4096).optional(),
        format: z.enum(['auto', 'npz', 'idx', 'csv', 'dicom', 'folder']).default('auto'),
        columns: z
          .object({
            path: z.string().max(256).optional(),
            label: z.string().max(256).optional(),
            split: z.string().max(256).optional(),
            group: z.string().max(256).optional(),
            labels: z.array(z.string().max(256)).min(2).optional()
          })
          .strict()
          .optional()
      })
      .strict(),
    response: type<DatasetInspection>()
  }),
  modelCurves: command({
    description: 'Confusion matrix and ROC curves of a model (member or soup) of a fused run on its test split.',
    request: z.object({ runId: id, modelId: id }).strict(),
    response: type<ModelCurvesReport>()
  }),
  compareMethods: command({
    description: 'Paired bootstrap comparison of two methods of a finished fuse job on the same test images.',
    request: z.object({ jobId: id, a: id, b: id, metric: z.enum(METRIC_IDS).optional() }).strict(),
    response: type<MethodComparison>()
  }),
  estimateRun: command({
    description: 'Members, epochs and expected time of a Fission plan on this backend, before starting it.',
    request: planRequest,
    response: type<RunEstimate>()
  }),
  backendInfo: command({
    description: 'The compute backend the engine runs on, and why (fallbacks).',
    request: none,
    response: type<BackendReport>()
  }),
  selfCheck: command({
    description: 'Start-up self-check: database, workspace writable, engine backend, native kernels.',
    request: none,
    response: type<SelfCheckReport>()
  }),
  choosePath: command({
    description:
      'A native dialog to choose a folder, a file or a save destination (desktop app only; in a browser use browseFolder).',
    request: z
      .object({
        purpose: z.enum(['folder', 'file', 'save']),
        title: z.string().max(200).optional(),
        defaultPath: z.string().max(4096).optional()
      })
      .strict(),
    response: type<ChosenPath>()
  }),
  listPretrained: command({
    description: 'The imported pretrained networks of the workspace (import them with the import-weights job).',
    request: none,
    response: type<PretrainedNetwork[]>()
  })
} as const

/** Every event main can push, name → payload. */
export const events = {
  /** A job event (started, progress, log, completed, failed, cancelled); see subscribeJobs. */
  jobEvent: type<JobEvent>()
} as const

export type Commands = typeof commands
export type CommandName = keyof Commands
/** What a client sends (defaults may be omitted). */
export type RequestOf<K extends CommandName> = NonNullable<Commands[K]['input']>
/** What a handler receives (validated, defaults filled). */
export type ParsedRequestOf<K extends CommandName> = z.output<Commands[K]['request']>
export type ResponseOf<K extends CommandName> = Commands[K]['response']
export type EventName = keyof typeof events
export type EventPayload<E extends EventName> = (typeof events)[E]

/** Error codes a call may fail with. */
export type ApiErrorCode =
  | 'invalid_request' // the request does not match the schema (see issues)
  | 'unknown_command'
  | 'not_found'
  | 'conflict' // e.g. resuming a job that is running
  | 'unauthorized'
  | 'unavailable' // e.g. the transport closed
  | 'internal'

/** One problem with one field of a request. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. 'params.steps' ('' for the whole request). */
  path: string
  message: string
}

/** The typed error object every failed call answers. */
export interface ApiError {
  code: ApiErrorCode
  message: string
  issues?: FieldIssue[]
}

/** The envelope every call answers on the wire. */
export type Reply = { ok: true; data: unknown } | { ok: false; error: ApiError }

/** Thrown (rejected) by client calls, and by main-side handlers to answer a typed error. */
export class ApiCallError extends Error implements ApiError {
  readonly code: ApiErrorCode
  readonly issues?: FieldIssue[]
  constructor(error: ApiError) {
    super(error.message)
    this.name = 'ApiCallError'
    this.code = error.code
    if (error.issues) this.issues = error.issues
  }
  /** The plain error object (what goes on the wire). */
  toJSON(): ApiError {
    return this.issues
      ? { code: this.code, message: this.message, issues: this.issues }
      : { code: this.code, message: this.message }
  }
}

/** Turns zod issues into field issues, paths prefixed with `prefix`. */
export function fieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.')
    return { path, message: issue.message }
  })
}

/** One line naming the fields and what is wrong with them. */
export function describeIssues(issues: FieldIssue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
}

/** How a client reaches main: Electron IPC, the bridge's WebSocket, or in-process. */
export interface Transport {
  /** Sends one command; always resolves to a Reply (transport failures → code 'unavailable'). */
  invoke(command: string, request: unknown): Promise<Reply>
  /** Listens to one event; returns the function that stops listening. */
  on(event: string, listener: (payload: unknown) => void): () => void
}

// All fields optional → the request argument may be left out.
type CallOf<K extends CommandName> =
  Record<string, never> extends RequestOf<K>
    ? (request?: RequestOf<K>) => Promise<ResponseOf<K>>
    : (request: RequestOf<K>) => Promise<ResponseOf<K>>

/** `startJob` of one kind: params typed by the kind's schema, the answered record's result by its result type. */
export type StartJobCall = <K extends JobKindId>(request: StartJobRequestOf<K>) => Promise<JobRecordOf<K>>

/** The typed API as the renderer sees it (`window.api`). */
export type Api = { [K in Exclude<CommandName, 'startJob'>]: CallOf<K> } & { startJob: StartJobCall } & {
  /** Listens to an event; returns the function that stops listening. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void
}

/** Builds the typed API over a transport. Failed calls reject with ApiCallError. */
export function createClient(transport: Transport): Api {
  const api: Record<string, unknown> = {
    on: (event: string, listener: (payload: unknown) => void) => transport.on(event, listener)
  }
  for (const name of Object.keys(commands)) {
    api[name] = async (request: unknown = {}) => {
      const reply = await transport.invoke(name, request)
      if (!reply.ok) throw new ApiCallError(reply.error)
      return reply.data
    }
  }
  return api as Api
}
