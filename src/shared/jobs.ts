/**
 * Every job kind's parameter schema (zod; validated by the host before a job starts and again
 * in the engine process), written once for the contract, the host's job kinds
 * (src/main/host/jobs/*.ts import them), the CLI and the renderer. The result types of the
 * kinds are in ./job-results.ts; `StartJobRequest` is the contract's typed `startJob` request.
 *
 * Pure TypeScript and zod: no node:*, no electron.
 */
import { z } from 'zod'
import {
  AUGMENT_PRESET_IDS,
  FUSION_METHOD_IDS,
  HIER_LEVEL_IDS,
  isMethodId,
  METRIC_IDS,
  PAPER_METHOD_IDS,
  PLAN_KINDS,
  DEFAULT_FUSE_METHOD_IDS,
  type MethodId
} from './vocabulary'

/** Whether `p` is an absolute path (POSIX `/…`, or Windows `C:\…` / `\\server\…`). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')
}

const absolute = z
  .string()
  .min(1)
  .refine((p) => isAbsolutePath(p), 'must be an absolute path')
/** A member, soup or imported-network id. */
const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a model id')
const triple = z.array(z.number()).min(1).max(3)

/** Slurm settings of a run (over the workspace's slurm.json; see host/slurm.ts). */
export const slurmOptionsSchema = z
  .object({
    partition: z.string().min(1).optional(),
    account: z.string().min(1).optional(),
    time: z.string().min(1).optional(),
    cpusPerTask: z.number().int().min(1).optional(),
    mem: z.string().min(1).optional(),
    gres: z.string().min(1).optional(),
    extra: z.array(z.string().min(1)).optional(),
    /** Seconds between two looks at the queue and the tasks' files (default 2). */
    pollSeconds: z.number().positive().max(600).optional()
  })
  .strict()

/** Params of a selftest job. */
export const selftestParams = z
  .object({
    /** Number of steps, 1–100000. */
    steps: z.number().int().min(1).max(100_000).default(20),
    /** Milliseconds each step waits (simulated work), 0–10000. */
    stepMs: z.number().int().min(0).max(10_000).default(50),
    /** Fail with an error at this step (to exercise failure handling). */
    failAtStep: z.number().int().min(0).optional()
  })
  .strict()

/** Params of an import job. */
export const importParams = z
  .object({
    /** The file or folder the user chose. */
    input: absolute,
    /** CSV manifest naming the images below `input`. */
    csv: absolute.optional(),
    /** Dataset name (default: the input's base name). */
    name: z.string().min(1).max(200).optional(),
    format: z.enum(['auto', 'npz', 'idx', 'folder', 'csv', 'dicom']).default('auto'),
    /** Square side in pixels (default 28 for 28 px sources, else 224). */
    size: z.number().int().min(8).max(1024).optional(),
    /** 'keep' the source channels or repeat gray to 3. */
    channels: z.union([z.literal('keep'), z.literal(3)]).default('keep'),
    /** Generated split when the dataset has none, e.g. "70/10/20". */
    split: z
      .string()
      .regex(/^\s*[\d.]+\s*\/\s*[\d.]+\s*\/\s*[\d.]+\s*$/, 'expected three numbers like 70/10/20')
      .optional(),
    seed: z.number().int().min(0).default(0),
    /** CheXpert uncertain (-1) labels: ones, zeros or ignore (masked). */
    uncertain: z.enum(['ones', 'zeros', 'ignore']).default('ignore'),
    /** CSV column roles overriding auto-detection. */
    columns: z
      .object({
        path: z.string().min(1).optional(),
        label: z.string().min(1).optional(),
        /** One-hot or multi-label columns. */
        labels: z.array(z.string().min(1)).min(2).optional(),
        split: z.string().min(1).optional(),
        group: z.string().min(1).optional()
      })
      .strict()
      .optional(),
    /** A dataset row created beforehand (status 'importing') to fill; else the job creates one. */
    datasetId: z.string().min(1).optional()
  })
  .strict()

/** Params of a fission job; absent settings take METHOD.md's defaults (pretrain: 4 epochs, Adam 1e-3, batch 128). */
export const fissionParams = z
  .object({
    datasetId: z.string().min(1),
    plan: z.enum(PLAN_KINDS),
    arch: z.string().min(1).default('smallcnn'),
    /** Channel-width multiplier of the architecture (smallcnn, mobilenetv2; default 1). */
    width: z.number().positive().max(4).optional(),
    /** 'random', a member or soup id of the workspace, or a folder / model.json path (absolute). */
    from: z.string().min(1).default('random'),
    name: z.string().min(1).optional(),
    lpEpochs: z.number().int().min(0).optional(),
    epochs: z.number().int().min(1).optional(),
    lrs: z.array(z.number().positive()).min(1).optional(),
    seeds: z.array(z.number().int().min(0)).min(1).optional(),
    augs: z.array(z.enum(AUGMENT_PRESET_IDS)).min(1).optional(),
    fggEpochs: z.number().int().min(1).optional(),
    cycle: z.number().int().min(2).optional(),
    a1: z.number().positive().optional(),
    a2: z.number().positive().optional(),
    batchSize: z.number().int().min(2).optional(),
    weightDecay: z.number().min(0).optional(),
    metric: z.enum(METRIC_IDS).optional(),
    /** Engine processes training at once (default: one per core on CPU backends, 1 on the GPU). */
    workers: z.number().int().min(1).optional(),
    /** Where the units train: a pool of engine processes here (default), or one Slurm job array (host/slurm.ts). */
    executor: z.enum(['local', 'slurm']).default('local'),
    /** Slurm settings (over the workspace's slurm.json). */
    slurm: slurmOptionsSchema.optional(),
    /** Peak resident memory per engine process, MiB (default: 75% of the machine's memory / workers, at most 4 GiB). */
    memoryLimitMiB: z.number().min(64).optional()
  })
  .strict()

/** Params of a fuse job. */
export const fuseParams = z
  .object({
    runId: z.string().min(1),
    /** Methods in table order (default best, uniform, greedy, GoU, GoG). */
    methods: z
      .array(
        z
          .string()
          .refine(isMethodId, {
            message: `unknown fusion method: expected ${FUSION_METHOD_IDS.join(', ')} or hier:OUTER/INNER (levels ${HIER_LEVEL_IDS.join(', ')})`
          })
          .transform((v) => v as MethodId)
      )
      .min(1)
      .default([...DEFAULT_FUSE_METHOD_IDS]),
    /** Hyperparameter grouping the hierarchical soups: lr (default), lineage, seed, aug, or any recorded one. */
    groupBy: z.string().min(1).default('lr'),
    /** Selection metric (default: the run's config.metric, else accuracy). */
    metric: z.enum(METRIC_IDS).optional(),
    /** Greedy ties rule. */
    ties: z.enum(['reject', 'accept']).default('reject'),
    /** Dataset ids to evaluate out of distribution. */
    ood: z.array(z.string().min(1)).default([]),
    /** Per OOD dataset id: explicit class map (its class name → run class name). */
    classMap: z.record(z.string(), z.record(z.string(), z.string())).default({}),
    /** Also run the corruption suite on the test split. */
    corruptions: z.boolean().default(false),
    /** Run the corruption suite on at most this many test images, a seeded subset (default all). */
    corruptionImages: z.number().int().min(1).optional(),
    /** Also run the ensemble baseline on the corruption suite (every member's passes; default true). */
    corruptionEnsemble: z.boolean().default(true),
    /** Bootstrap resamples of the CIs (≥ 1,000 for reporting). */
    resamples: z.number().int().min(100).max(100_000).default(1000),
    /** Seed of the bootstrap and the corruption noise. */
    seed: z.number().int().min(0).default(0),
    /** BatchNorm re-estimation of final soups on this many training batches (0 = off). */
    bnBatches: z.number().int().min(0).max(10_000).default(0),
    /** Threads of the native kernels while fusing (default: the engine process's, one); the pipeline gives every core to a fusion that runs alone. */
    threads: z.number().int().min(1).max(256).optional()
  })
  .strict()

/** Params of an export job. */
export const exportParams = z
  .object({
    /** Member or soup id. */
    modelId: z.string().min(1),
    format: z.enum(['onnx', 'tfjs']).default('onnx'),
    /** Output file (absolute); default `exports/<modelId>.onnx` (or `.json`) in the workspace. */
    out: z
      .string()
      .refine((p) => isAbsolutePath(p), 'must be an absolute path')
      .optional(),
    /** Also write the model card as Markdown beside the file. */
    markdown: z.boolean().default(false)
  })
  .strict()

/** Params of a compare job. */
export const compareParams = z
  .object({
    /** Workspace-relative predictions CSVs of the two models (engine/evaluate/model.ts format), a then b. */
    files: z.tuple([z.string().min(1), z.string().min(1)]),
    metric: z.enum(METRIC_IDS),
    resamples: z.number().int().min(100).max(100_000),
    seed: z.number().int().min(0)
  })
  .strict()

/** Params of an import-weights job. */
export const importWeightsParams = z
  .object({
    /** The weights file the user chose (absolute). */
    path: absolute,
    /** Architecture, where the tensors fit several (and a check otherwise). */
    arch: z.string().min(1).optional(),
    name: z.string().min(1).max(200).optional(),
    /** Input side in pixels (default 224). */
    size: z.number().int().min(16).max(1024).optional(),
    /** Per-channel mean / std after x/255 (default ImageNet's). */
    mean: triple.optional(),
    std: triple.optional(),
    /** A ViT's attention heads (default hidden / 64). */
    heads: z.number().int().min(1).max(64).optional()
  })
  .strict()

export const predictParams = z
  .object({
    /** Member, soup or imported-network (pt-…) id. */
    modelId: z.string().min(1),
    input: absolute,
    /** Output file, .csv or .npy. */
    out: absolute.refine((p) => /\.(csv|npy)$/i.test(p), 'must end in .csv or .npy'),
    logits: z.boolean().default(false),
    batchSize: z.number().int().min(1).max(1024).default(16)
  })
  .strict()

/** Params of an interpolate job. */
export const interpolateParams = z
  .object({
    a: id,
    b: id,
    /** Points along the path, ends included. */
    steps: z.number().int().min(2).max(201).default(11),
    /** λ range. */
    range: z
      .tuple([z.number(), z.number()])
      .default([0, 1])
      .refine((r) => r[1] > r[0], 'range: expected lo < hi'),
    split: z.enum(['train', 'val', 'test']).default('val'),
    /** Re-estimate BatchNorm statistics of every point on this many training batches (0 = interpolate them). */
    bnBatches: z.number().int().min(0).max(10_000).default(0),
    /** The run the models belong to, recorded on the job for listings (optional). */
    runId: id.optional()
  })
  .strict()

/** Params of a plane job. */
export const planeParams = z
  .object({
    /** Models A, B, C. */
    models: z.tuple([id, id, id]),
    /** Points per axis. */
    grid: z.number().int().min(2).max(101).default(21),
    /** Extra extent on each side, as a fraction of the three models' extent. */
    margin: z.number().min(0).max(5).default(0.2),
    split: z.enum(['train', 'val', 'test']).default('val'),
    /** Re-estimate BatchNorm statistics at every point on this many training batches (0 = no). */
    bnBatches: z.number().int().min(0).max(10_000).default(0),
    /** The run the models belong to, recorded on the job for listings (optional). */
    runId: id.optional()
  })
  .strict()

/** Params of an inspect job: those of an import that decide what is read. */
export const inspectParams = importParams.pick({ input: true, csv: true, format: true, columns: true }).strict()

/** Params of a probe job (none). */
export const probeParams = z.object({}).strict()

/**
 * The pipeline's default cap of the corruption suite (test images, a seeded subset): the suite
 * costs 18 inference passes per model, and the pipeline's fusion stays a fraction of its training.
 */
export const PIPELINE_CORRUPTION_IMAGES = 32

const counts = z
  .object({ train: z.number().int().min(1), val: z.number().int().min(1), test: z.number().int().min(1) })
  .strict()
const importSpec = importParams.omit({ datasetId: true })

/** Params of a pipeline job; the plan settings are the fission job's (absent ones take its defaults). */
export const pipelineParams = z
  .object({
    data: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('synthetic'),
          /** Images per split of the in-domain dataset and of its shifted twin. */
          counts,
          oodCounts: counts,
          /** Image side, pixels. */
          size: z.number().int().min(8).max(256).default(28),
          seed: z.number().int().min(0)
        })
        .strict(),
      z
        .object({
          kind: z.literal('import'),
          /** The user's dataset, and optional out-of-distribution datasets with the same classes. */
          source: importSpec,
          ood: z.array(importSpec).default([])
        })
        .strict()
    ]),
    ...fissionParams.pick({
      arch: true,
      width: true,
      metric: true,
      lpEpochs: true,
      lrs: true,
      seeds: true,
      augs: true,
      epochs: true,
      fggEpochs: true,
      cycle: true,
      a1: true,
      a2: true,
      batchSize: true,
      workers: true,
      slurm: true,
      memoryLimitMiB: true
    }).shape,
    /** Epochs of the shared starting point's pretraining on the training split (0: members start from random weights). */
    pretrainEpochs: z.number().int().min(0).default(2),
    /** Where the fission stages train: engine processes here (default) or Slurm job arrays; fusion always runs here. */
    executor: z.enum(['local', 'slurm']).optional(),
    methods: z
      .array(z.enum(PAPER_METHOD_IDS))
      .min(1)
      .default([...PAPER_METHOD_IDS]),
    corruptions: z.boolean().default(true),
    /**
     * Corruption suite on at most this many test images, a seeded subset (the run's fusion costs a
     * fraction of its training); 0: every test image.
     */
    corruptionImages: z.number().int().min(0).default(PIPELINE_CORRUPTION_IMAGES),
    /** Also run the ensemble baseline (every member) on the corruption suite (default false: the soups and the best member only). */
    corruptionEnsemble: z.boolean().default(false),
    resamples: z.number().int().min(100).max(100_000).default(1000),
    /** Seed of the bootstrap and corruption noise. */
    seed: z.number().int().min(0).default(0)
  })
  .strict()

/** Every job kind's params schema, by kind. */
export const jobParamSchemas = {
  selftest: selftestParams,
  import: importParams,
  fission: fissionParams,
  fuse: fuseParams,
  export: exportParams,
  pipeline: pipelineParams,
  compare: compareParams,
  inspect: inspectParams,
  probe: probeParams,
  'import-weights': importWeightsParams,
  predict: predictParams,
  interpolate: interpolateParams,
  plane: planeParams
} as const

/** A job kind's name. */
export type JobKindId = keyof typeof jobParamSchemas
/** The job kinds, in listing order. */
export const JOB_KIND_IDS = Object.keys(jobParamSchemas) as JobKindId[]
/** What a client sends as a kind's params (defaults may be left out). */
export type JobParamsInput<K extends JobKindId> = z.input<(typeof jobParamSchemas)[K]>
/** What a kind's `run` receives (validated, defaults filled). */
export type JobParams<K extends JobKindId> = z.output<(typeof jobParamSchemas)[K]>
/** The `startJob` request of one kind. */
export type StartJobRequestOf<K extends JobKindId> = { kind: K; params?: JobParamsInput<K> }
/** The `startJob` request: a union discriminated by `kind`, params typed per kind. */
export type StartJobRequest = { [K in JobKindId]: StartJobRequestOf<K> }[JobKindId]
