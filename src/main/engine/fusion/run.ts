/**
 * A fusion run, orchestrated: score members and soups on the validation split through the
 * method registry, then evaluate every method's model on the test split (bootstrap CIs, paired
 * test against the best individual), on out-of-distribution datasets and on the corruption suite.
 * Plain Node + tfjs; the caller has chosen the backend and records the results.
 */
import type * as tf from '@tensorflow/tfjs'
import type { FuseSeconds } from '../../../shared/job-results'
import { DatasetReader } from '../data/reader'
import { permutation } from '../data/rng'
import type { DatasetMeta, SplitName } from '../data/types'
import {
  loadModel,
  readCheckpoint,
  readCheckpointMeta,
  setWeights,
  type Checkpoint,
  type NamedWeight
} from '../models/checkpoint'
import {
  bootstrapMany,
  pairedBootstrap,
  type BootstrapOptions,
  type ConfidenceInterval,
  type PairedTest
} from '../evaluate/bootstrap'
import { METRICS, metricById, scoreAll, type MetricId, type Predictions } from '../evaluate'
import {
  CORRUPTIONS,
  corruptBatch,
  mapClasses,
  remapMultiLabels,
  remapSingleLabels,
  type CorruptionId
} from '../evaluate/ood'
import { averageProbs, predictBatches, toModelInput, type ImageBatch } from '../evaluate/predict'
import { averageCheckpoints, normaliseWeights, sameLayout, WeightAccumulator } from './average'
import { reestimateBatchNorm } from './batchnorm'
import type { TiesRule } from './greedy'
import { type FusionAccounting, type FusionMember, type FusionResult, type MethodId, type SoupNode } from './methods'
import type { GreedyStep } from './greedy'
import { makeScorer, recipeKey, type Recipe } from './recipe'
import { fusionMethod, makeMergeScorer } from './hier'
import { mergeCheckpoints, mergeKey, type MergeSpec } from './merges'

/** A member to fuse: its checkpoint folder and what grouping and accounting need. */
export interface FuseMemberInput extends FusionMember {
  /** Checkpoint folder. */
  dir: string
  /** Checkpoint folder of its starting point (`start` names it); the merge methods read it. */
  startDir?: string
}

/** Another dataset to evaluate on, with its classes mapped onto the run's. */
export interface OodInput {
  /** Dataset id (as reported). */
  id: string
  /** Its cache folder. */
  dir: string
  /** Explicit source class → run class names; unlisted classes match by name. */
  classMap?: Record<string, string>
  /** Split to use (default test). */
  split?: SplitName
}

/** What a fusion run needs. */
export interface FuseOptions {
  members: FuseMemberInput[]
  /** Cache folder of the run's dataset (val for selection, test for reporting). */
  datasetDir: string
  /** Selection metric, scored on validation (higher is better). */
  metric: MetricId
  methods: MethodId[]
  /** Hyperparameter of the hierarchical groups (default 'lr'). */
  groupBy?: string
  ties?: TiesRule
  /** Bootstrap settings of the test CIs (default 1,000 resamples, seed 0). */
  bootstrap?: BootstrapOptions
  ood?: OodInput[]
  /** Also evaluate on the corruption suite of the test split. */
  corruptions?: boolean
  /** Seed of the corruption noise (default 0). */
  corruptionSeed?: number
  /**
   * Run the corruption suite on at most this many test images, a subset drawn with the
   * corruption seed (default: every test image). The suite costs 18 inference passes per
   * model; each image keeps the noise it gets in the full suite.
   */
  corruptionImages?: number
  /**
   * Also run the ensemble baseline on the corruption suite (default true). Its outputs are the
   * average of every member's, so it costs members × 18 passes; false leaves the ensemble's
   * corruption row empty, with a note (the pipeline's default).
   */
  corruptionEnsemble?: boolean
  /** Memory for the corruption suite's images made once per run (default 512 MiB); a larger suite is made again per model, batch by batch. */
  suiteBytes?: number
  /** Re-estimate BatchNorm statistics of each final soup on this many training batches (0 = off, the default). */
  bnBatches?: number
  /** Images per inference batch (default 256). */
  batchSize?: number
  signal?: AbortSignal
  /** Progress: what is being done, and methods done out of the total. */
  progress?: (stage: string, done: number, total: number) => void
  log?: (message: string) => void
  /** Stores a method's merged model; returns its model id (soups only). */
  saveSoup?: (result: FusionResult, checkpoint: Checkpoint) => Promise<string | null>
  /** Reports already finished by an earlier attempt (skipped). */
  done?: FuseMethodReport[]
  /** Called when a method's report is complete (persist it to resume). */
  onMethod?: (report: FuseMethodReport) => void
}

/** Metrics of a model on one dataset, each with its bootstrap CI. */
export type SplitReport = {
  /** Images evaluated. */
  n: number
  metrics: Record<MetricId, ConfidenceInterval>
}

/** One row of the fuse table. */
export type FuseMethodReport = {
  method: MethodId
  label: string
  kind: 'soup' | 'ensemble'
  /** Id of the model this method made (null for best / ensemble or when not saved). */
  modelId: string | null
  /** Validation score on the selection metric. */
  val: number
  test: SplitReport
  /** Paired bootstrap of the selection metric on test against the best individual (absent for 'best'). */
  vsBest?: PairedTest
  /** Per OOD dataset id: metrics and what could not be mapped. */
  ood: Record<string, SplitReport & { unmappedSource: string[]; unmatchedRun: string[] }>
  /** Per corruption: metric values at severities 1, 2, 3 (point estimates). */
  corruptions?: Record<CorruptionId, Record<MetricId, number>[]>
  /** Member training epochs behind this method. */
  epochs: number
  /** Member training seconds + souping seconds. */
  seconds: number
  accounting: FusionAccounting
  ingredients: { memberId: string; weight: number }[]
  tree: SoupNode
  steps: GreedyStep[]
}

/** Result of a fusion run. */
export interface FuseReport {
  metric: MetricId
  groupBy: string
  /** Validation score of every member on the selection metric. */
  members: { id: string; val: number }[]
  methods: FuseMethodReport[]
  /** Adaptations and warnings worth showing (resizing, skipped pieces). */
  notes: string[]
  /** Where the time went (see {@link FuseSeconds}). */
  seconds: FuseSeconds
  /** What the corruption suite ran on (null when it was not run). */
  corruptionSuite: CorruptionSuiteInfo | null
  /**
   * Test-split probabilities (n × K, rows in split order) computed on the way, by member id
   * (members whose test outputs were needed: the best, every member for the ensemble) and by
   * method id (this attempt's methods), so callers can store per-image predictions without
   * predicting again. Not part of the persisted report.
   */
  testProbs: { members: Map<string, Float32Array>; methods: Map<string, Float32Array> }
}

/** The corruption suite's extent: test images corrupted, of how many, and whether the ensemble was run on it. */
export interface CorruptionSuiteInfo {
  images: number
  of: number
  /** Seed of the subset and of the noise. */
  seed: number
  ensemble: boolean
}

/** Seconds of a fusion run by where they went (the contract's type: src/shared/job-results.ts). */
export type { FuseSeconds }

/** A split to predict: its truth, and its images in batches (held in memory, or read from disk at each pass). */
interface SplitSource {
  yTrue: Int32Array | Float32Array
  n: number
  /** One pass in split order; batches carry their first row's position in the split. */
  batches(): AsyncIterable<ImageBatch & { at: number }>
}

/** Member weights kept in memory by a fusion run (beyond it, averages are streamed from disk). */
const MEMBER_CACHE_BYTES = 1024 * 2 ** 20

/** Splits up to this size stay in memory (validation is scored many times); larger ones are streamed. */
const IN_MEMORY_BYTES = 256 * 2 ** 20

/**
 * The corruption suite's images (18 per test image in the suite) are made once per fusion run
 * and kept up to this size; beyond it they are made again for each model, batch by batch.
 */
const SUITE_BYTES = 512 * 2 ** 20

async function splitSource(
  reader: DatasetReader,
  split: SplitName,
  batchSize: number,
  o: { rows?: Int32Array; keep?: boolean } = {}
): Promise<SplitSource> {
  const labels = await reader.labels(split)
  const all = o.rows ?? Int32Array.from({ length: reader.count(split) }, (_, i) => i)
  const w = reader.labelWidth
  const yTrue =
    reader.meta.task === 'single'
      ? Int32Array.from(all, (i) => labels[i])
      : Float32Array.from({ length: all.length * w }, (_, j) => labels[all[Math.floor(j / w)] * w + (j % w)])
  const read = (s: number): Promise<ImageBatch & { at: number }> => {
    const idx = all.subarray(s, Math.min(all.length, s + batchSize))
    return reader.readImages(split, idx).then((x) => ({ x, n: idx.length, at: s }))
  }
  if (o.keep && all.length * reader.imageBytes <= IN_MEMORY_BYTES) {
    const held: (ImageBatch & { at: number })[] = []
    for (let s = 0; s < all.length; s += batchSize) held.push(await read(s))
    return {
      yTrue,
      n: all.length,
      batches: async function* () {
        yield* held
      }
    }
  }
  return {
    yTrue,
    n: all.length,
    // one batch ahead is read while the current one is predicted
    batches: async function* () {
      let next = all.length > 0 ? read(0) : null
      for (let s = 0; next; s += batchSize) {
        const cur = await next
        next = s + batchSize < all.length ? read(s + batchSize) : null
        yield cur
      }
    }
  }
}

const shapeOf = (m: DatasetMeta): [number, number, number] => [m.size[0], m.size[1], m.channels]

/** Runs the fusion methods and their evaluations; see the file header. */
export async function runFusion(o: FuseOptions): Promise<FuseReport> {
  if (o.members.length === 0) throw new Error('fuse: the run has no trained members')
  const batchSize = o.batchSize ?? 256
  const notes: string[] = []
  const log = (m: string): void => {
    notes.push(m)
    o.log?.(m)
  }
  const reader = await DatasetReader.open(o.datasetDir)
  const meta = reader.meta
  const k = meta.classes.length
  const first = await readCheckpointMeta(o.members[0].dir)
  if (first.classes.length !== k)
    throw new Error(`fuse: the members have ${first.classes.length} outputs but the dataset has ${k} classes`)
  const normalization = first.normalization
  const predictOpts = { task: meta.task, imageShape: shapeOf(meta), normalization, signal: o.signal }
  const selection = metricById(o.metric)
  const byId = new Map(o.members.map((m) => [m.id, m]))

  let shared: tf.LayersModel | null = null
  const seconds: FuseSeconds = { load: 0, bn: 0, val: 0, test: 0, ood: 0, suite: 0, corruptions: 0, bootstrap: 0 }
  const timed = async <T>(part: keyof FuseSeconds, f: () => Promise<T> | T): Promise<T> => {
    const t = performance.now()
    try {
      return await f()
    } finally {
      seconds[part] += (performance.now() - t) / 1000
    }
  }
  const readers: DatasetReader[] = []
  try {
    const val = await splitSource(reader, 'val', batchSize, { keep: true })
    if (val.n === 0) throw new Error('fuse: the dataset has no validation images to select soups with')
    // the test split is predicted once per model evaluated: kept in memory when small enough
    const test = await splitSource(reader, 'test', batchSize, { keep: true })
    const predictions = (yTrue: Int32Array | Float32Array, probs: Float32Array): Predictions => ({
      task: meta.task,
      k,
      yTrue,
      probs
    })

    /**
     * Loads a recipe's weights (streamed average) into the one model instance and runs `use`.
     * One instance serves every recipe: building a model costs more than assigning weights.
     */
    /**
     * Member weights kept in memory once read, up to {@link MEMBER_CACHE_BYTES} in all: greedy and
     * hierarchical soups average the same members again and again (a greedy pass over N members
     * reads ~N²/2 checkpoints from disk otherwise). Beyond the budget, averages stream from disk.
     */
    const cache = new Map<string, { meta: Checkpoint['meta']; weights: NamedWeight[] }>()
    let cachedBytes = 0
    const member = async (id: string): Promise<{ meta: Checkpoint['meta']; weights: NamedWeight[] } | null> => {
      const hit = cache.get(id)
      if (hit) return hit
      const meta = await readCheckpointMeta(byId.get(id)!.dir)
      const bytes = meta.weights.reduce((a, e) => a + e.byteLength, 0)
      if (cachedBytes + bytes > MEMBER_CACHE_BYTES) return null
      const c = await readCheckpoint(byId.get(id)!.dir, { optimizer: false })
      cachedBytes += bytes
      const entry = { meta: c.meta, weights: c.weights }
      cache.set(id, entry)
      return entry
    }
    /** The recipe's weighted average (same arithmetic and member order as averageCheckpoints). */
    const average = async (recipe: Recipe): Promise<Checkpoint> => {
      const entries = Object.entries(recipe)
      const loaded: { meta: Checkpoint['meta']; weights: NamedWeight[] }[] = []
      for (const [id] of entries) {
        const m = await member(id)
        if (!m)
          return averageCheckpoints(
            entries.map(([mid, weight]) => ({ dir: byId.get(mid)!.dir, weight })),
            { cancelled: () => !!o.signal?.aborted }
          )
        loaded.push(m)
      }
      o.signal?.throwIfAborted()
      const { optimizer: _o, trainer: _t, ...meta } = loaded[0].meta
      if (entries.length === 1) return { meta, weights: loaded[0].weights }
      const w = normaliseWeights(entries.map(([, weight]) => weight))
      const acc = new WeightAccumulator(loaded[0].weights)
      loaded.forEach((m, i) => {
        sameLayout(loaded[0].weights, m.weights, byId.get(entries[i][0])!.dir)
        acc.add(
          m.weights.map((x) => x.data),
          w[i]
        )
      })
      return { meta, weights: acc.result() }
    }
    const withModel = async <T>(
      recipe: Recipe,
      use: (m: tf.LayersModel, ckpt: Checkpoint) => Promise<T>,
      merge?: MergeSpec
    ): Promise<T> => {
      const ckpt = await timed('load', async () => {
        const c = merge ? await mergeCheckpoints(merge, mergeEnv) : await average(recipe)
        if (!shared) shared = await loadModel(c)
        else setWeights(shared, c.weights)
        return c
      })
      return use(shared!, ckpt)
    }
    const predictSplit = async (model: tf.LayersModel, s: SplitSource): Promise<Float32Array> =>
      (await predictBatches(model, s.batches(), predictOpts)).probs

    // Validation probabilities per recipe (members' are kept for the ensemble).
    const valProbs = new Map<string, Float32Array>()
    /** The method being run, for progress lines. */
    const current = { method: 'members', index: 0 }
    let scored = 0
    const scorer = makeScorer(async (recipe) => {
      o.signal?.throwIfAborted()
      const probs = await withModel(recipe, (m) => timed('val', () => predictSplit(m, val)))
      if (Object.keys(recipe).length === 1) valProbs.set(recipeKey(recipe), probs)
      o.progress?.(`${current.method}: validation evaluation ${++scored}`, current.index, o.methods.length)
      return selection.compute(predictions(val.yTrue, probs))
    })
    const startDirs = [...new Set(o.members.map((m) => m.startDir ?? ''))]
    const mergeEnv = {
      dirOf: (id: string) => byId.get(id)!.dir,
      start: startDirs.length === 1 && startDirs[0] ? startDirs[0] : null,
      startMissing:
        startDirs.length > 1
          ? 'the members start from different models'
          : "the members' starting point is not recorded",
      cancelled: () => !!o.signal?.aborted
    }
    const mergeScorer = makeMergeScorer(async (spec) => {
      o.signal?.throwIfAborted()
      const probs = await withModel({}, (m) => predictSplit(m, val), spec)
      o.progress?.(`${current.method}: validation evaluation ${++scored}`, current.index, o.methods.length)
      return selection.compute(predictions(val.yTrue, probs))
    })
    const memberValProbs = async (id: string): Promise<Float32Array> => {
      await scorer.score({ [id]: 1 })
      return valProbs.get(recipeKey({ [id]: 1 }))!
    }
    const ensembleScore = async (ids: string[]): Promise<number> => {
      const all: Float32Array[] = []
      for (const id of ids) all.push(await memberValProbs(id))
      return selection.compute(predictions(val.yTrue, averageProbs(all)))
    }

    // Evaluation sets beyond validation: test, OOD datasets, corruptions.
    const oodSets: {
      input: OodInput
      split: SplitSource
      shape: [number, number, number]
      mapping: ReturnType<typeof mapClasses>
    }[] = []
    for (const input of o.ood ?? []) {
      const r = await DatasetReader.open(input.dir)
      readers.push(r)
      {
        if (r.meta.task !== meta.task)
          throw new Error(`OOD dataset ${input.id} is ${r.meta.task} but the run is ${meta.task}`)
        const mapping = mapClasses(r.meta.classes, meta.classes, input.classMap)
        if (mapping.mapped.length === 0)
          throw new Error(
            `OOD dataset ${input.id}: none of its classes (${r.meta.classes.join(', ')}) maps onto the run's (${meta.classes.join(', ')})`
          )
        if (mapping.unmappedSource.length)
          log(`OOD ${input.id}: classes left out (no run class): ${mapping.unmappedSource.join(', ')}`)
        const split = input.split ?? 'test'
        let loaded: SplitSource
        if (meta.task === 'single') {
          const { rows, yTrue } = remapSingleLabels(await r.labels(split), mapping)
          loaded = { ...(await splitSource(r, split, batchSize, { rows })), yTrue }
        } else {
          const l = await splitSource(r, split, batchSize)
          loaded = { ...l, yTrue: remapMultiLabels(l.yTrue, r.meta.classes.length, mapping, k) }
        }
        oodSets.push({ input, split: loaded, shape: shapeOf(r.meta), mapping })
      }
    }

    /** Test, OOD and corruption probabilities of one model (`corrupt` null when the suite was not run on it). */
    interface Outputs {
      test: Float32Array
      ood: Float32Array[]
      corrupt: Float32Array[][] | null
    }
    const imageBytes = meta.size[0] * meta.size[1] * meta.channels
    const cap =
      o.corruptions && o.corruptionImages !== undefined && o.corruptionImages < test.n
        ? Math.max(1, Math.floor(o.corruptionImages))
        : null
    const inSuite = cap === null ? null : new Uint8Array(test.n)
    if (inSuite && cap !== null) {
      for (const r of permutation(test.n, deriveSubsetSeed(o.corruptionSeed ?? 0)).subarray(0, cap)) inSuite[r] = 1
      log(`corruption suite on ${cap} of ${test.n} test images (a seeded subset)`)
    }
    const suiteN = cap ?? test.n
    const corruptionSuite: CorruptionSuiteInfo | null = o.corruptions
      ? { images: suiteN, of: test.n, seed: o.corruptionSeed ?? 0, ensemble: o.corruptionEnsemble !== false }
      : null
    const width = meta.task === 'single' ? 1 : k
    const suiteTruth = inSuite
      ? (() => {
          const rows = [...inSuite.keys()].filter((r) => inSuite[r])
          const y = meta.task === 'single' ? new Int32Array(rows.length) : new Float32Array(rows.length * width)
          rows.forEach((r, i) => y.set(test.yTrue.subarray(r * width, (r + 1) * width), i * width))
          return y
        })()
      : test.yTrue
    /** The batch's images in the suite, each corrupted with the noise of its position in the split. */
    const corrupted = (b: ImageBatch & { at: number }, id: CorruptionId, severity: 1 | 2 | 3): ImageBatch => {
      if (!inSuite) return { x: corruptBatch(b.x, shapeOf(meta), id, severity, o.corruptionSeed ?? 0, b.at), n: b.n }
      const rows = Array.from({ length: b.n }, (_, i) => i).filter((i) => inSuite[b.at + i])
      const x = new Uint8Array(rows.length * imageBytes)
      rows.forEach((i, j) =>
        x.set(
          corruptBatch(
            b.x.subarray(i * imageBytes, (i + 1) * imageBytes),
            shapeOf(meta),
            id,
            severity,
            o.corruptionSeed ?? 0,
            b.at + i
          ),
          j * imageBytes
        )
      )
      return { x, n: rows.length }
    }
    const levels = CORRUPTIONS.length * 3
    /**
     * Every corrupted image of the suite, made once per fusion run when they fit in
     * {@link SUITE_BYTES}: (corruption, severity) blocks of the suite's images in split order.
     */
    let held: Uint8Array | null = null
    const holdSuite = o.corruptions && levels * suiteN * imageBytes <= (o.suiteBytes ?? SUITE_BYTES)
    const makeSuite = async (): Promise<Uint8Array> => {
      const all = new Uint8Array(levels * suiteN * imageBytes)
      let at = 0
      for await (const b of test.batches()) {
        o.signal?.throwIfAborted()
        let n = 0
        for (const [j, c] of CORRUPTIONS.entries()) {
          for (const severity of [1, 2, 3] as const) {
            const batch = corrupted(b, c.id, severity)
            all.set(batch.x, ((j * 3 + severity - 1) * suiteN + at) * imageBytes)
            n = batch.n
          }
        }
        at += n
      }
      return all
    }
    /** Probabilities of the held suite: per corruption, per severity (one streamed pass in full batches). */
    const predictSuite = async (model: tf.LayersModel, all: Uint8Array): Promise<Float32Array[][]> => {
      const total = levels * suiteN
      const batches = function* (): Generator<ImageBatch> {
        for (let s = 0; s < total; s += batchSize)
          yield {
            x: all.subarray(s * imageBytes, Math.min(total, s + batchSize) * imageBytes),
            n: Math.min(total, s + batchSize) - s
          }
      }
      const probs = (await predictBatches(model, batches(), predictOpts)).probs
      return CORRUPTIONS.map((_, j) =>
        [0, 1, 2].map((s) => probs.slice((j * 3 + s) * suiteN * k, (j * 3 + s + 1) * suiteN * k))
      )
    }
    /**
     * The model's outputs. The test split is predicted clean in one pass; the corruption suite is
     * made once and predicted in full batches (held), or, when too large to hold, each test batch is
     * corrupted at every (corruption, severity) and predicted, one corrupted batch at a time.
     */
    const outputsOf = async (model: tf.LayersModel, withCorruptions = !!o.corruptions): Promise<Outputs> => {
      let corrupt: Float32Array[][] | null = null
      let clean: Float32Array
      if (!withCorruptions || holdSuite) {
        clean = await timed('test', () => predictSplit(model, test))
        if (withCorruptions) {
          held ??= await timed('suite', makeSuite)
          corrupt = await timed('corruptions', () => predictSuite(model, held!))
        }
      } else {
        const parts: Float32Array[] = []
        const streamed: Float32Array[][][] = CORRUPTIONS.map(() => [[], [], []])
        for await (const b of test.batches()) {
          parts.push(await timed('test', async () => (await predictBatches(model, [b], predictOpts)).probs))
          for (const [j, c] of CORRUPTIONS.entries()) {
            for (const severity of [1, 2, 3] as const) {
              const batch = await timed('suite', () => corrupted(b, c.id, severity))
              if (batch.n > 0)
                streamed[j][severity - 1].push(
                  await timed('corruptions', async () => (await predictBatches(model, [batch], predictOpts)).probs)
                )
            }
          }
        }
        clean = concatF32(parts)
        corrupt = streamed.map((l) => l.map(concatF32))
      }
      const out: Outputs = { test: clean, ood: [], corrupt }
      for (const s of oodSets) {
        const p = await timed('ood', () =>
          predictBatches(model, s.split.batches(), { ...predictOpts, imageShape: s.shape })
        )
        for (const note of p.notes) if (!notes.includes(`OOD ${s.input.id}: ${note}`)) log(`OOD ${s.input.id}: ${note}`)
        out.ood.push(p.probs)
      }
      return out
    }

    const bnSource = async function* (model: tf.LayersModel): AsyncGenerator<tf.Tensor4D> {
      let i = 0
      for await (const b of reader.batches('train', { batchSize: 64, shuffle: true, seed: 0 })) {
        if (i++ >= (o.bnBatches ?? 0)) break
        yield toModelInput(model, b, predictOpts)
      }
    }

    const allMetrics = Object.fromEntries(METRICS.map((m) => [m.id, m.compute])) as Record<
      MetricId,
      (p: Predictions) => number
    >
    const report = (yTrue: Int32Array | Float32Array, probs: Float32Array): SplitReport => {
      const t = performance.now()
      const r = {
        n: yTrue.length / (meta.task === 'single' ? 1 : k),
        metrics: bootstrapMany(predictions(yTrue, probs), allMetrics, o.bootstrap)
      }
      seconds.bootstrap += (performance.now() - t) / 1000
      return r
    }

    const done = new Map((o.done ?? []).map((r) => [r.method, r]))
    const memberTest = new Map<string, Float32Array>()
    const methodTest = new Map<string, Float32Array>()
    const reports: FuseMethodReport[] = []
    const ctx = { members: o.members, scorer, ensembleScore, groupBy: o.groupBy ?? 'lr', ties: o.ties, mergeScorer }
    let bestTest: Float32Array | null = null
    const outputsCache = new Map<string, Outputs>()
    /** A cached model's outputs serve another method when they include the corruption suite where it is run. */
    const usable = (out: Outputs | undefined): boolean => !!out && (!o.corruptions || out.corrupt !== null)
    const bestTestProbs = async (): Promise<Float32Array> => {
      if (!bestTest) {
        const best = reports.find((r) => r.method === 'best') ?? done.get('best') ?? null
        const recipe = best
          ? Object.fromEntries(best.ingredients.map((g) => [g.memberId, g.weight]))
          : (await fusionMethod('best').run(ctx)).recipe
        bestTest = await withModel(recipe, (m) => timed('test', () => predictSplit(m, test)))
      }
      return bestTest
    }

    const pairedVsBest = async (probs: Float32Array): Promise<PairedTest> => {
      const best = await bestTestProbs()
      return timed('bootstrap', () =>
        pairedBootstrap(predictions(test.yTrue, probs), predictions(test.yTrue, best), selection.compute, o.bootstrap)
      )
    }

    for (const [i, id] of o.methods.entries()) {
      o.progress?.(`method ${id}`, i, o.methods.length)
      current.method = id
      current.index = i
      const previous = done.get(id)
      if (previous) {
        reports.push(previous)
        continue
      }
      o.signal?.throwIfAborted()
      const config = fusionMethod(id)
      const result = await config.run(ctx)
      let modelId: string | null = null
      let outputs: Outputs
      if (result.kind === 'ensemble') {
        const withCorruptions = !!o.corruptions && o.corruptionEnsemble !== false
        if (o.corruptions && !withCorruptions)
          log(
            `${id}: not run on the corruption suite (it would cost ${o.members.length} members × ${levels} passes over ${suiteN} images); its corruption row is empty`
          )
        const each: Outputs[] = []
        for (const m of o.members) {
          // members already evaluated (the best individual) are not predicted again
          const key = recipeKey({ [m.id]: 1 })
          const hit = o.bnBatches ? undefined : outputsCache.get(key)
          const cached = hit && (!withCorruptions || hit.corrupt) ? hit : undefined
          const out = cached ?? (await withModel({ [m.id]: 1 }, (model) => outputsOf(model, withCorruptions)))
          if (!o.bnBatches && !hit) outputsCache.set(key, out)
          memberTest.set(m.id, out.test)
          each.push(out)
        }
        outputs = {
          test: averageProbs(each.map((e) => e.test)),
          ood: oodSets.map((_, j) => averageProbs(each.map((e) => e.ood[j]))),
          corrupt: withCorruptions
            ? each[0].corrupt!.map((levels, c) => levels.map((_, s) => averageProbs(each.map((e) => e.corrupt![c][s]))))
            : null
        }
      } else if (
        !o.bnBatches &&
        usable(outputsCache.get(result.merge ? mergeKey(result.merge) : recipeKey(result.recipe)))
      ) {
        // same weights as an earlier method (e.g. a greedy soup that kept only the best member)
        outputs = outputsCache.get(result.merge ? mergeKey(result.merge) : recipeKey(result.recipe))!
        if (o.saveSoup && id !== 'best')
          modelId = await withModel(result.recipe, (_m, ckpt) => o.saveSoup!(result, ckpt), result.merge)
      } else {
        outputs = await withModel(
          result.recipe,
          async (model, ckpt) => {
            if (o.bnBatches) {
              const r = await timed('bn', () => reestimateBatchNorm(model, bnSource(model)))
              log(
                r.layers === 0
                  ? `${id}: no BatchNorm layers (e.g. a ViT): no statistics to re-estimate`
                  : `${id}: BatchNorm statistics re-estimated on ${r.images} training images (${r.layers} layers)`
              )
            }
            if (o.saveSoup && id !== 'best')
              modelId = await o.saveSoup(result, o.bnBatches ? { ...ckpt, weights: weightsFrom(model, ckpt) } : ckpt)
            return outputsOf(model)
          },
          result.merge
        )
        outputsCache.set(result.merge ? mergeKey(result.merge) : recipeKey(result.recipe), outputs)
      }
      const test_ = report(test.yTrue, outputs.test)
      const r: FuseMethodReport = {
        method: id,
        label: config.label,
        kind: result.kind,
        modelId,
        val: result.val,
        test: test_,
        ...(id === 'best' ? {} : { vsBest: await pairedVsBest(outputs.test) }),
        ood: Object.fromEntries(
          oodSets.map((s, j) => [
            s.input.id,
            {
              ...report(s.split.yTrue, outputs.ood[j]),
              unmappedSource: s.mapping.unmappedSource,
              unmatchedRun: s.mapping.unmatchedRun
            }
          ])
        ),
        ...(o.corruptions && outputs.corrupt
          ? {
              corruptions: Object.fromEntries(
                CORRUPTIONS.map((c, j) => [c.id, outputs.corrupt![j].map((p) => scoreAll(predictions(suiteTruth, p)))])
              ) as Record<CorruptionId, Record<MetricId, number>[]>
            }
          : {}),
        epochs: result.accounting.memberEpochs,
        seconds: result.accounting.memberSeconds + result.accounting.soupSeconds,
        accounting: result.accounting,
        ingredients: Object.entries(result.recipe)
          .filter(([, w]) => w > 0)
          .map(([memberId, weight]) => ({ memberId, weight })),
        tree: result.tree,
        steps: result.steps
      }
      if (id === 'best') bestTest = outputs.test
      if (result.kind === 'soup' && Object.keys(result.recipe).length === 1 && !o.bnBatches)
        memberTest.set(Object.keys(result.recipe)[0], outputs.test)
      methodTest.set(id, outputs.test)
      reports.push(r)
      o.onMethod?.(r)
    }
    o.progress?.('done', o.methods.length, o.methods.length)
    const members: { id: string; val: number }[] = []
    for (const m of o.members) members.push({ id: m.id, val: (await scorer.score({ [m.id]: 1 })).value })
    const round: FuseSeconds = { ...seconds }
    for (const key of Object.keys(round) as (keyof FuseSeconds)[]) round[key] = +round[key].toFixed(2)
    return {
      metric: o.metric,
      groupBy: ctx.groupBy,
      members,
      methods: reports,
      notes,
      seconds: round,
      corruptionSuite,
      testProbs: { members: memberTest, methods: methodTest }
    }
  } finally {
    // assigned inside withModel, which TypeScript does not see here
    ;(shared as tf.LayersModel | null)?.dispose()
    await reader.close()
    for (const r of readers) await r.close()
  }
}

/** Seed of the corruption suite's image subset, apart from the noise seeds drawn from the same number. */
function deriveSubsetSeed(seed: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + 0x165667b1) >>> 0
}

function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The checkpoint's weights with BatchNorm statistics read back from a re-estimated model. */
function weightsFrom(model: tf.LayersModel, ckpt: Checkpoint): Checkpoint['weights'] {
  const live = new Map(model.weights.map((w) => [w.originalName, w]))
  return ckpt.weights.map((w) =>
    w.kind === 'bn-stat' && live.has(w.name)
      ? { ...w, data: Float32Array.from(live.get(w.name)!.read().dataSync()) }
      : w
  )
}
