/**
 * What each job kind answers when it completes (`JobRecord.result`), as JSON: one type per kind,
 * gathered in {@link JobResults}. The host's job kinds produce them (host/jobs/*.ts), the
 * contract's `startJob` / `getJob` and the CLI read them through {@link resultOf}.
 *
 * Numbers that are undefined (NaN) travel as null. Pure types: no node:*, no electron.
 */
import type { Json, JobRecord } from './records'

/** A value with its 95% bootstrap interval (null where undefined). */
export type ValueCi = { value: number | null; ci: [number | null, number | null] }

/** Result of a 'selftest' job. */
export type SelftestResult = { steps: number; sum: number }

/** A file the importer or a prediction could not use, relative to the folder the user chose. */
export type FileIssue = { file: string; reason: string }

/** Result of an 'import' job. */
export type ImportResult = {
  dataset: {
    id: string
    name: string
    classes: string[]
    counts: Record<string, number>
    perClass: Json
    size?: number[]
  }
  imported: number
  failed: number
  errors: FileIssue[]
  /** Images smaller than the stored size, enlarged to it (only when --size asks for a larger size, or sources differ). */
  enlarged?: number
}

/** Which column of a CSV manifest plays which role (engine/data/manifest.ts detects them). */
export type ColumnRoles = {
  /** Column naming the image (relative path or id without extension). */
  path: string
  /** Single class column (names or integers), when labels are class names or numbers. */
  label?: string
  /** One-hot (single-label) or binary (multi-label) label columns, when labels are spread over columns. */
  labels?: string[]
  /** 'onehot' when `labels` are one-hot columns of one class, 'multilabel' for independent labels. */
  labelKind: 'class' | 'onehot' | 'multilabel'
  /** Column of the dataset's own split, if any. */
  split?: string
  /** Patient / lesion column (its images never straddle splits), if any. */
  group?: string
}

/** The columns of a CSV manifest and the role the importer gives each (see `inspectDataset`). */
export type ManifestColumns = ColumnRoles & {
  /** The manifest's file name, relative to the chosen folder. */
  manifest: string
  /** Every column of its header, in order. */
  header: string[]
}

/** What `inspectDataset` answers (the result of an 'inspect' job): what an import of that file or folder would see. */
export type DatasetInspection = {
  /** Importer that recognised the input: npz, idx, csv, dicom or folder. */
  format: string
  task: 'single' | 'multilabel'
  /** Class (or label) names in label-index order. */
  classes: string[]
  /** Items per class (multi-label: positives per label). */
  perClass: Record<string, number>
  /** Items per split of the source's own split ('none' for items without one). */
  perSplit: Record<string, number>
  /** Items found. */
  items: number
  /** Whether the source has its own train/val/test split (else the import makes one). */
  ownSplit: boolean
  /** Square side the import uses unless told otherwise, pixels. */
  defaultSize: number
  /** Channels of the source when known, else null (the first image decides). */
  channels: 1 | 3 | null
  /** CSV manifests only. */
  columns?: ManifestColumns
  /** The first inputs the scan rejects, and how many there are in all. */
  issues: FileIssue[]
  issueCount: number
}

/** The compute backend the engine runs on (the engine's BackendInfo; see engine/compute; the result of a 'probe' job). */
export type BackendReport = {
  /** 'tensorflow', 'wasm' or 'cpu'. */
  backend: string
  /** What the user asked for (`--backend` / FF_BACKEND), or 'auto'. */
  requested: string
  tfjsVersion: string
  device: 'gpu' | 'cpu'
  /** Threads the backend computes with (≥ 1). */
  threads: number
  simd: boolean
  /** Backends tried and skipped, in order, with the reason. */
  fallbacks: { backend: string; reason: string }[]
  /** Set whenever the engine runs on something slower than the best backend. */
  warning?: string
  kernels: string[]
  /**
   * What computes, in words, e.g. 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 1 thread)',
   * 'wasm + JS kernels: native addon not built: <reason>' or 'cpu (pure JS)'.
   */
  compute: string
  /**
   * On wasm: whether the native addon runs the convolution kernels; `blas` is its instruction set
   * and BLAS (e.g. 'AVX-512, OpenBLAS 0.3.21'), `reason` why it is not loaded. Absent on other backends.
   */
  native?: { loaded: boolean; blas?: string; reason?: string }
}

/** Result of a 'compare' job: a paired bootstrap of metric(a) − metric(b) on the same test images. */
export type CompareResult = {
  /** Test images both were scored on. */
  n: number
  /** metric(a) − metric(b) on all images, or null when undefined. */
  difference: number | null
  /** 95% percentile interval of the difference (null bounds when undefined). */
  ci: [number | null, number | null]
  /** Two-sided bootstrap p-value of "no difference", in (0, 1], or null. */
  p: number | null
  resamples: number
  /** Resamples on which the metric was undefined (left out). */
  undefinedResamples: number
}

/** One row of a fuse job's result (host/jobs/fuse.ts methodRow, as JSON). */
export type FuseMethodRow = {
  method: string
  label: string
  kind: 'soup' | 'ensemble'
  /** Soup id of the saved model (the member for 'best'), or null (ensemble). */
  modelId: string | null
  /** Validation score on the selection metric (null when undefined). */
  val: number | null
  /** Test metrics by id with bootstrap 95% CIs. */
  test: Record<string, ValueCi>
  testN: number
  /** Paired bootstrap against the best individual on the selection metric, or null. */
  vsBest: { difference: number | null; ci: [number | null, number | null]; p: number | null } | null
  /** Per OOD dataset id: metrics and what could not be mapped. */
  ood: Record<string, { n: number; metrics: Record<string, ValueCi>; unmappedSource: string[]; unmatchedRun: string[] }>
  /** Per corruption: metric values at severities 1, 2, 3 (null when not run). */
  corruptions: Record<string, Record<string, number | null>[]> | null
  epochs: number
  seconds: number
  accounting: Json
  ingredients: { memberId: string; weight: number }[]
  /** The soup tree as the engine made it. */
  tree: SoupTreeNode
  steps: Json
}

/** A node of a soup tree, global → group → member (engine/fusion/methods.ts SoupNode, as JSON: NaN becomes null). */
export type SoupTreeNode = {
  level: 'global' | 'group' | 'member'
  id: string
  val: number | null
  kept: boolean
  weight: number
  method?: string
  detail?: string
  children?: SoupTreeNode[]
}

/**
 * Where a fusion's time went, seconds (engine/fusion/run.ts): `load` reading and averaging
 * weights, `bn` BatchNorm re-estimation, `val` the selection's validation passes (members and
 * trial soups), `test` and `ood` the test and out-of-distribution passes, `suite` making the
 * corrupted images (once per fusion run when they fit in memory), `corruptions` predicting
 * them, `bootstrap` the CIs and paired tests.
 */
export type FuseSeconds = {
  load: number
  bn: number
  val: number
  test: number
  ood: number
  suite: number
  corruptions: number
  bootstrap: number
}

/** Result of a 'fuse' job. */
export type FuseResult = {
  runId: string
  datasetId: string
  metric: string
  groupBy: string
  backend: string
  /** Where the fusion's time went (engine/fusion/run.ts FuseSeconds), storing the per-image predictions, and the total. */
  seconds: FuseSeconds & { predictions: number; total: number }
  /** What the corruption suite ran on: test images corrupted of the split's, its seed, whether the ensemble was run on it (null: not run). */
  corruptionSuite?: { images: number; of: number; seed: number; ensemble: boolean } | null
  members: { id: string; val: number | null }[]
  notes: string[]
  damaged: Json
  methods: FuseMethodRow[]
  /** Per method id: its per-image test predictions (workspace-relative CSV), for paired comparisons. */
  predictions: Record<string, string>
  /** Threads of the native kernels the fusion ran on (absent in results of older versions). */
  threads?: number
}

/** Result of a 'fission' job (`fissionfusion fission --json`). */
export type FissionResult = {
  run: {
    id: string
    plan: string
    backend: string
    workers: number
    status: string
    seconds: number
    metric: string
    units: { id: string; status: string; reason: string | null }[]
    executor?: string
    slurm?: { tasks: Json[]; submissions: { jobId: string }[] } | null
    memory?: {
      limitMiB: number
      expectedPeakMiB: number
      peakRssMiB: { job: number; units: Record<string, number | null> }
    }
  }
  members: FissionMember[]
}

/** A member of a fission result (as the CLI prints it): its hyperparameters and validation loss and metrics (null where undefined). */
export type FissionMember = {
  id: string
  group: string
  lr: number
  seed: number
  aug: string
  epoch: number
  epochsTrained: number
  seconds: number
  val: Record<string, number | null>
}

/** One metric of a model card: where, which, its value (null on the wire where it was undefined: NaN), its bootstrap 95% interval and images (engine/export/card.ts). */
export type CardMetric = { split: string; metric: string; value: number | null; ci95?: [number, number]; n?: number }

/** The model card an export writes into the model file (the JSON form of engine/export/card.ts ModelCard). */
export type ModelCardJson = {
  cardVersion: 1
  appVersion: string
  modelName: string
  intendedUse: string
  createdAt: string
  architecture: { name: string; options: { [key: string]: Json } }
  dataset: { name: string; task: 'single' | 'multilabel'; classes: string[] }
  preprocessing: {
    size: [number, number]
    channels: 1 | 3
    layout: 'NHWC'
    scale: number
    mean: number[]
    std: number[]
  }
  output: { name: string; activation: 'softmax' | 'sigmoid' }
  method: {
    kind: string
    description?: string
    ingredients: { id: string; hyperparameters: { [key: string]: string | number | boolean | null } }[]
  }
  metrics: CardMetric[]
  weightsSha256: string
}

/** Result of an 'export' job. */
export type ExportResult = { file: string; sha256: string; card: ModelCardJson; files: string[] }

/** Result of a 'predict' job. */
export type PredictResult = {
  model: string
  arch: string
  images: number
  outputs: number
  classes: string[]
  kind: 'logits' | 'softmax' | 'sigmoid'
  /** Per-channel mean / std after x/255 (one number: every channel). */
  preprocessing: { size: [number, number]; mean: number | number[]; std: number | number[] }
  /** Output file name (no folder). */
  out: string
  seconds: number
  notes: string[]
  failed: number
  errors: FileIssue[]
}

/** Input preparation imported weights expect: resize to `size` (height, width), x/255, then (x − mean)/std per channel. */
export type Preprocessing = { size: [number, number]; channels: 3; channelOrder: 'RGB'; mean: number[]; std: number[] }

/** The file imported weights came from: its name (never a path), format, SHA-256 and size in bytes. */
export type WeightsOrigin = { file: string; format: 'onnx' | 'safetensors'; sha256: string; bytes: number }

/** Result of an 'import-weights' job. */
export type ImportWeightsResult = {
  model: {
    id: string
    name: string
    arch: string
    classes: number
    preprocessing: Preprocessing
    origin: Omit<WeightsOrigin, 'bytes'>
    /** Tensor names: matched as they are, reshaped, and left out (the head of another task, ...). */
    tensors: { matched: string[]; reshaped: string[]; skipped: string[] }
  }
}

/** Result of an 'interpolate' job (linear mode connectivity between two models; `fissionfusion interpolate --json`). */
export type InterpolateResult = {
  a: string
  b: string
  datasetId: string
  split: string
  bnBatches: number
  backend: string
  /** One per λ: loss and every metric (null when undefined). */
  points: { lambda: number; loss: number | null; metrics: Record<string, number | null> }[]
  /** Highest loss along the path above the straight line between the end losses. */
  barrier: number | null
  barrierLambda: number
}

/** Result of a 'plane' job (loss surface on the plane through three models; `fissionfusion plane --json`). */
export type PlaneResult = {
  datasetId: string
  runId: string
  split: string
  backend: string
  gridSize: number
  margin: number
  /** The three models at their own coordinates, with their loss there. */
  models: { id: string; x: number; y: number; loss: number | null; metrics: Record<string, number | null> }[]
  xs: number[]
  ys: number[]
  /** Grid points row by row (y outer, x inner). */
  grid: { x: number; y: number; loss: number | null; metrics: Record<string, number | null> }[]
  /** Soups of the run projected onto the plane, with their distance to it. */
  soups: { id: string; method: string | null; x: number; y: number; distance: number }[]
}

/** Result of a 'pipeline' job (`fissionfusion pipeline --json`, `demo --json`). */
export type PipelineResult = {
  backend: string
  /** What computes, e.g. 'wasm + native kernels (…)' (absent in results of older versions). */
  engine?: string
  backendWarning: string | null
  metric: string
  seconds: number
  stages: Record<string, number>
  compute: { pretrainEpochs: number; gridEpochs: number; fggEpochs: number; fggToGrid: number }
  /**
   * Per run (grid, fgg): seconds of its training and of its fusion stage, their ratio, the fuse job's
   * seconds by part and what the corruption suite ran on (absent in results of older versions).
   */
  fusion?: Record<
    string,
    {
      trainingSeconds: number
      fuseSeconds: number
      ratio: number | null
      parts: Record<string, number> | null
      corruptionSuite: { images: number; of: number; seed: number; ensemble: boolean } | null
    }
  >
  members: {
    plan: string
    name: string
    group: string | null
    lr: number | null
    seed: number | null
    aug: string | null
    epoch: number | null
    epochs: number
    seconds: number
    val: number | null
  }[]
  methods: {
    plan: string
    method: string
    val: number | null
    test: Record<string, ValueCi>
    ood: Record<string, { metrics: Record<string, ValueCi> }>
    corruptionMean: number | null
    epochs: number
    seconds: number
  }[]
  best: { plan: string; method: string; modelId: string; val: number }
  treeText: string[]
  export: { file: string; files: string[] }
}

/** Every job kind's result, by kind. */
export interface JobResults {
  selftest: SelftestResult
  import: ImportResult
  fission: FissionResult
  fuse: FuseResult
  export: ExportResult
  pipeline: PipelineResult
  compare: CompareResult
  inspect: DatasetInspection
  probe: BackendReport
  'import-weights': ImportWeightsResult
  predict: PredictResult
  interpolate: InterpolateResult
  plane: PlaneResult
}

/** A job kind's name. */
export type JobKindName = keyof JobResults

/** A job record of kind K: its result typed (null until it completes). */
export type JobRecordOf<K extends JobKindName> = Omit<JobRecord, 'kind' | 'result'> & {
  kind: K
  result: JobResults[K] | null
}

/** Whether `job` is of kind K (its result then has K's type). */
export function isJobOf<K extends JobKindName>(
  job: JobRecord | JobRecordOf<JobKindName>,
  kind: K
): job is JobRecordOf<K> & JobRecord {
  return job.kind === kind
}

/** The typed result of a completed job of kind K, or null (another kind, or not completed). */
export function resultOf<K extends JobKindName>(
  job: JobRecord | JobRecordOf<JobKindName> | null | undefined,
  kind: K
): JobResults[K] | null {
  return job && isJobOf(job, kind) && job.status === 'completed' ? job.result : null
}
