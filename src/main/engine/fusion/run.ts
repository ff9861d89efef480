/**
 * A fusion run, orchestrated: score members and soups on the validation split through the
 * method registry, then evaluate every method's model on the test split (bootstrap CIs, paired
 * test against the best individual), on out-of-distribution datasets and on the corruption suite.
 * Plain Node + tfjs; the caller has chosen the backend and records the results.
 */
import type * as tf from '@tensorflow/tfjs'
import { DatasetReader } from '../data/reader'
import type { DatasetMeta, SplitName } from '../data/types'
import { loadModel, readCheckpointMeta, setWeights, type Checkpoint } from '../models/checkpoint'
import { bootstrapMany, pairedBootstrap, type BootstrapOptions, type ConfidenceInterval, type PairedTest } from '../evaluate/bootstrap'
import { METRICS, metricById, scoreAll, type MetricId, type Predictions } from '../evaluate'
import { CORRUPTIONS, corruptBatch, mapClasses, remapMultiLabels, remapSingleLabels, type CorruptionId } from '../evaluate/ood'
import { averageProbs, predictBatches, toModelInput, type ImageBatch } from '../evaluate/predict'
import { averageCheckpoints } from './average'
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
export interface SplitReport {
  /** Images evaluated. */
  n: number
  metrics: Record<MetricId, ConfidenceInterval>
}

/** One row of the fuse table. */
export interface FuseMethodReport {
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
}

/** A split read into memory once (small splits: validation is scored hundreds of times). */
interface LoadedSplit {
  batches: ImageBatch[]
  yTrue: Int32Array | Float32Array
  n: number
}

async function loadSplit(reader: DatasetReader, split: SplitName, batchSize: number, rows?: Int32Array): Promise<LoadedSplit> {
  const labels = await reader.labels(split)
  const all = rows ?? Int32Array.from({ length: reader.count(split) }, (_, i) => i)
  const batches: ImageBatch[] = []
  for (let s = 0; s < all.length; s += batchSize) {
    const idx = all.subarray(s, Math.min(all.length, s + batchSize))
    batches.push({ x: await reader.readImages(split, idx), n: idx.length })
  }
  const w = reader.labelWidth
  const yTrue = reader.meta.task === 'single'
    ? Int32Array.from(all, (i) => labels[i])
    : Float32Array.from({ length: all.length * w }, (_, j) => labels[all[Math.floor(j / w)] * w + (j % w)])
  return { batches, yTrue, n: all.length }
}

const shapeOf = (m: DatasetMeta): [number, number, number] => [m.size[0], m.size[1], m.channels]

/** Runs the fusion methods and their evaluations; see the file header. */
export async function runFusion(o: FuseOptions): Promise<FuseReport> {
  if (o.members.length === 0) throw new Error('fuse: the run has no trained members')
  const batchSize = o.batchSize ?? 256
  const notes: string[] = []
  const log = (m: string): void => { notes.push(m); o.log?.(m) }
  const reader = await DatasetReader.open(o.datasetDir)
  const meta = reader.meta
  const k = meta.classes.length
  const first = await readCheckpointMeta(o.members[0].dir)
  if (first.classes.length !== k) throw new Error(`fuse: the members have ${first.classes.length} outputs but the dataset has ${k} classes`)
  const normalization = first.normalization
  const predictOpts = { task: meta.task, imageShape: shapeOf(meta), normalization, signal: o.signal }
  const selection = metricById(o.metric)
  const byId = new Map(o.members.map((m) => [m.id, m]))

  let shared: tf.LayersModel | null = null
  try {
    const val = await loadSplit(reader, 'val', batchSize)
    if (val.n === 0) throw new Error('fuse: the dataset has no validation images to select soups with')
    const test = await loadSplit(reader, 'test', batchSize)
    const predictions = (yTrue: Int32Array | Float32Array, probs: Float32Array): Predictions => ({ task: meta.task, k, yTrue, probs })

    /**
     * Loads a recipe's weights (streamed average) into the one model instance and runs `use`.
     * One instance serves every recipe: building a model costs more than assigning weights.
     */
    const withModel = async <T>(recipe: Recipe, use: (m: tf.LayersModel, ckpt: Checkpoint) => Promise<T>, merge?: MergeSpec): Promise<T> => {
      const ckpt = merge ? await mergeCheckpoints(merge, mergeEnv) : await averageCheckpoints(Object.entries(recipe).map(([id, weight]) => ({ dir: byId.get(id)!.dir, weight })), { cancelled: () => !!o.signal?.aborted })
      if (!shared) shared = await loadModel(ckpt)
      else setWeights(shared, ckpt.weights)
      return use(shared, ckpt)
    }
    const predictSplit = async (model: tf.LayersModel, s: LoadedSplit): Promise<Float32Array> => (await predictBatches(model, s.batches, predictOpts)).probs

    // Validation probabilities per recipe (members' are kept for the ensemble).
    const valProbs = new Map<string, Float32Array>()
    /** The method being run, for progress lines. */
    const current = { method: 'members', index: 0 }
    let scored = 0
    const scorer = makeScorer(async (recipe) => {
      o.signal?.throwIfAborted()
      const probs = await withModel(recipe, (m) => predictSplit(m, val))
      if (Object.keys(recipe).length === 1) valProbs.set(recipeKey(recipe), probs)
      o.progress?.(`${current.method}: validation evaluation ${++scored}`, current.index, o.methods.length)
      return selection.compute(predictions(val.yTrue, probs))
    })
    const startDirs = [...new Set(o.members.map((m) => m.startDir ?? ''))]
    const mergeEnv = {
      dirOf: (id: string) => byId.get(id)!.dir, start: startDirs.length === 1 && startDirs[0] ? startDirs[0] : null,
      startMissing: startDirs.length > 1 ? 'the members start from different models' : 'the members\' starting point is not recorded',
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
    const oodSets: { input: OodInput; split: LoadedSplit; shape: [number, number, number]; mapping: ReturnType<typeof mapClasses> }[] = []
    for (const input of o.ood ?? []) {
      const r = await DatasetReader.open(input.dir)
      try {
        if (r.meta.task !== meta.task) throw new Error(`OOD dataset ${input.id} is ${r.meta.task} but the run is ${meta.task}`)
        const mapping = mapClasses(r.meta.classes, meta.classes, input.classMap)
        if (mapping.mapped.length === 0) throw new Error(`OOD dataset ${input.id}: none of its classes (${r.meta.classes.join(', ')}) maps onto the run's (${meta.classes.join(', ')})`)
        if (mapping.unmappedSource.length) log(`OOD ${input.id}: classes left out (no run class): ${mapping.unmappedSource.join(', ')}`)
        const split = input.split ?? 'test'
        let loaded: LoadedSplit
        if (meta.task === 'single') {
          const { rows, yTrue } = remapSingleLabels(await r.labels(split), mapping)
          loaded = { ...(await loadSplit(r, split, batchSize, rows)), yTrue }
        } else {
          const l = await loadSplit(r, split, batchSize)
          loaded = { ...l, yTrue: remapMultiLabels(l.yTrue, r.meta.classes.length, mapping, k) }
        }
        oodSets.push({ input, split: loaded, shape: shapeOf(r.meta), mapping })
      } finally {
        await r.close()
      }
    }

    /** Test, OOD and corruption probabilities of one model. */
    interface Outputs { test: Float32Array; ood: Float32Array[]; corrupt: Float32Array[][] }
    const outputsOf = async (model: tf.LayersModel): Promise<Outputs> => {
      const out: Outputs = { test: await predictSplit(model, test), ood: [], corrupt: [] }
      for (const s of oodSets) {
        const p = await predictBatches(model, s.split.batches, { ...predictOpts, imageShape: s.shape })
        for (const note of p.notes) if (!notes.includes(`OOD ${s.input.id}: ${note}`)) log(`OOD ${s.input.id}: ${note}`)
        out.ood.push(p.probs)
      }
      if (o.corruptions) {
        for (const c of CORRUPTIONS) {
          const levels: Float32Array[] = []
          for (const severity of [1, 2, 3] as const) {
            let at = 0
            const corrupted = test.batches.map((b) => {
              const x = corruptBatch(b.x, shapeOf(meta), c.id, severity, o.corruptionSeed ?? 0, at)
              at += b.n
              return { x, n: b.n }
            })
            levels.push(await predictSplit(model, { ...test, batches: corrupted }))
          }
          out.corrupt.push(levels)
        }
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

    const allMetrics = Object.fromEntries(METRICS.map((m) => [m.id, m.compute])) as Record<MetricId, (p: Predictions) => number>
    const report = (yTrue: Int32Array | Float32Array, probs: Float32Array): SplitReport =>
      ({ n: yTrue.length / (meta.task === 'single' ? 1 : k), metrics: bootstrapMany(predictions(yTrue, probs), allMetrics, o.bootstrap) })

    const done = new Map((o.done ?? []).map((r) => [r.method, r]))
    const reports: FuseMethodReport[] = []
    const ctx = { members: o.members, scorer, ensembleScore, groupBy: o.groupBy ?? 'lr', ties: o.ties, mergeScorer }
    let bestTest: Float32Array | null = null
    const outputsCache = new Map<string, Outputs>()
    const bestTestProbs = async (): Promise<Float32Array> => {
      if (!bestTest) {
        const best = reports.find((r) => r.method === 'best') ?? done.get('best') ?? null
        const recipe = best ? Object.fromEntries(best.ingredients.map((g) => [g.memberId, g.weight])) : (await fusionMethod('best').run(ctx)).recipe
        bestTest = await withModel(recipe, (m) => predictSplit(m, test))
      }
      return bestTest
    }

    for (const [i, id] of o.methods.entries()) {
      o.progress?.(`method ${id}`, i, o.methods.length)
      current.method = id
      current.index = i
      const previous = done.get(id)
      if (previous) { reports.push(previous); continue }
      o.signal?.throwIfAborted()
      const config = fusionMethod(id)
      const result = await config.run(ctx)
      let modelId: string | null = null
      let outputs: Outputs
      if (result.kind === 'ensemble') {
        const each: Outputs[] = []
        for (const m of o.members) each.push(await withModel({ [m.id]: 1 }, outputsOf))
        outputs = {
          test: averageProbs(each.map((e) => e.test)),
          ood: oodSets.map((_, j) => averageProbs(each.map((e) => e.ood[j]))),
          corrupt: each[0].corrupt.map((levels, c) => levels.map((_, s) => averageProbs(each.map((e) => e.corrupt[c][s]))))
        }
      } else if (!o.bnBatches && outputsCache.has(result.merge ? mergeKey(result.merge) : recipeKey(result.recipe))) {
        // same weights as an earlier method (e.g. a greedy soup that kept only the best member)
        outputs = outputsCache.get(result.merge ? mergeKey(result.merge) : recipeKey(result.recipe))!
        if (o.saveSoup && id !== 'best') modelId = await withModel(result.recipe, (_m, ckpt) => o.saveSoup!(result, ckpt), result.merge)
      } else {
        outputs = await withModel(result.recipe, async (model, ckpt) => {
          if (o.bnBatches) {
            const r = await reestimateBatchNorm(model, bnSource(model))
            log(r.layers === 0 ? `${id}: no BatchNorm layers (e.g. a ViT): no statistics to re-estimate` : `${id}: BatchNorm statistics re-estimated on ${r.images} training images (${r.layers} layers)`)
          }
          if (o.saveSoup && id !== 'best') modelId = await o.saveSoup(result, o.bnBatches ? { ...ckpt, weights: weightsFrom(model, ckpt) } : ckpt)
          return outputsOf(model)
        }, result.merge)
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
        ...(id === 'best' ? {} : { vsBest: pairedBootstrap(predictions(test.yTrue, outputs.test), predictions(test.yTrue, await bestTestProbs()), selection.compute, o.bootstrap) }),
        ood: Object.fromEntries(oodSets.map((s, j) => [s.input.id, { ...report(s.split.yTrue, outputs.ood[j]), unmappedSource: s.mapping.unmappedSource, unmatchedRun: s.mapping.unmatchedRun }])),
        ...(o.corruptions ? {
          corruptions: Object.fromEntries(CORRUPTIONS.map((c, j) => [c.id, outputs.corrupt[j].map((p) => scoreAll(predictions(test.yTrue, p)))])) as Record<CorruptionId, Record<MetricId, number>[]>
        } : {}),
        epochs: result.accounting.memberEpochs,
        seconds: result.accounting.memberSeconds + result.accounting.soupSeconds,
        accounting: result.accounting,
        ingredients: Object.entries(result.recipe).filter(([, w]) => w > 0).map(([memberId, weight]) => ({ memberId, weight })),
        tree: result.tree,
        steps: result.steps
      }
      if (id === 'best') bestTest = outputs.test
      reports.push(r)
      o.onMethod?.(r)
    }
    o.progress?.('done', o.methods.length, o.methods.length)
    const members: { id: string; val: number }[] = []
    for (const m of o.members) members.push({ id: m.id, val: (await scorer.score({ [m.id]: 1 })).value })
    return { metric: o.metric, groupBy: ctx.groupBy, members, methods: reports, notes }
  } finally {
    // assigned inside withModel, which TypeScript does not see here
    (shared as tf.LayersModel | null)?.dispose()
    await reader.close()
  }
}

/** The checkpoint's weights with BatchNorm statistics read back from a re-estimated model. */
function weightsFrom(model: tf.LayersModel, ckpt: Checkpoint): Checkpoint['weights'] {
  const live = new Map(model.weights.map((w) => [w.originalName, w]))
  return ckpt.weights.map((w) => (w.kind === 'bn-stat' && live.has(w.name) ? { ...w, data: Float32Array.from(live.get(w.name)!.read().dataSync()) } : w))
}
