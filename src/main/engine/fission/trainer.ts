/**
 * The trainer: one training of one model (a grid member, an FGG base or cyclic phase, a linear
 * probe or a pretraining), resumable epoch by epoch.
 *
 * Folder of a training (`dir`):
 *   state/         checkpoint after the last completed epoch (weights, AdamW state, trainer state)
 *   best/          checkpoint of the lowest validation loss (when `keepBest`)
 *   epoch-<e>/     snapshots at the epochs listed in `snapshotEpochs` (FGG members)
 *   result.json    {@link TrainResult} once the training has ended (done, early stop, divergence)
 *
 * A training killed at any point restarts from state/ at the next epoch; as the batch order and
 * augmentation of epoch e depend only on (seed, e), it ends with the same weights as an
 * uninterrupted run on the same backend.
 */
import * as tf from '@tensorflow/tfjs'
import { existsSync, promises as fsp } from 'node:fs'
import { join } from 'node:path'
import type { TaskKind } from '../data/types'
import { scoreAll, type MetricId } from '../evaluate/index'
import {
  type CheckpointInput,
  type EpochRecord,
  type OptimizerSnapshot,
  type SplitMetrics,
  type TrainerState,
  hasCheckpoint,
  readCheckpoint,
  setWeights,
  weightsOf,
  writeCheckpoint
} from '../models/checkpoint'
import { splitBatch } from '../models/memory'
import { HEAD_LAYER } from '../models/types'
import { AdamW, type AdamWConfig, type NamedVariable } from './adamw'
import { batchLoss, labelTensors, probabilities, type LabelTensors, type UncertainPolicy } from './losses'
import { lrAt, type ScheduleSpec } from './schedules'
import type { BatchSource } from './source'

/** Everything one training needs. */
export interface TrainOptions {
  /** The starting model (already holding the starting weights); trained in place. */
  model: tf.LayersModel
  /** Checkpoint metadata written with every save (architecture, classes, task, provenance). */
  meta: Omit<CheckpointInput['meta'], 'trainer'>
  train: BatchSource
  val: BatchSource
  /** Epochs of this training, ≥ 1. */
  epochs: number
  /** Images per batch (per optimizer update). */
  batchSize: number
  /**
   * Images per forward/backward pass (default: the whole batch). A larger batch is split into
   * balanced micro-batches whose gradients are accumulated into the full batch's (see {@link trainStep}).
   */
  microBatch?: number
  /** Images per inference pass of the validation split (default: batchSize). */
  evalBatchSize?: number
  schedule: ScheduleSpec
  optimizer?: AdamWConfig
  /** AdamW state carried over from an earlier training (FGG); fresh when absent. */
  optimizerState?: OptimizerSnapshot
  /** Member seed: batch order and augmentation of epoch e derive from (seed, e). */
  seed: number
  /** `all` (fine-tuning) or `head` (linear probing: backbone frozen; BN statistics still adapt). */
  trainable?: 'all' | 'head'
  /** Stop when the validation loss has not improved for this many epochs (default: never). */
  patience?: number
  /** Write best/ at each new lowest validation loss (default true). */
  keepBest?: boolean
  /** 1-based epochs at whose end a snapshot epoch-<e>/ is written. */
  snapshotEpochs?: number[]
  /** Per class (single) or per label (multi) loss weights. */
  classWeights?: number[]
  /** Multi-label −1 handling (default ignore). */
  uncertain?: UncertainPolicy
  /** Training folder (see the file header). */
  dir: string
  signal?: AbortSignal
  /** Called after every epoch, after its checkpoints are on disk. */
  onEpoch?: (record: EpochRecord) => void
  /** Called after every optimizer update. */
  onStep?: (p: { epoch: number; iteration: number; iterations: number; loss: number; lr: number }) => void
}

/** How a training ended. */
export interface TrainResult {
  status: 'done' | 'early-stopped' | 'cancelled' | 'diverged'
  /** Why it stopped early, for `diverged` and `early-stopped`. */
  reason?: string
  /** Epochs completed (and checkpointed). */
  epochsTrained: number
  /** Epoch of the lowest validation loss (0 if none). */
  bestEpoch: number
  bestValLoss: number | null
  history: EpochRecord[]
  /** Training wall time, seconds, summed over resumes. */
  seconds: number
  /** Snapshot epochs written, with their folders. */
  snapshots: { epoch: number; dir: string }[]
  /** Where the wall time went, summed over resumes (absent in results of older versions). */
  timing?: TrainTiming
}

/**
 * Where a training's wall time went, seconds: `train` the steps (forward, backward, update),
 * `augment` training-time augmentation, `data` waiting for batches and making them tensors,
 * `eval` the validation passes, `checkpoint` checkpoint writes (wall seconds); `images` trained;
 * `cpu` CPU seconds of the process over the same span (on a shared machine wall time also counts
 * other programs' work, CPU time does not).
 */
export interface TrainTiming {
  train: number
  augment: number
  data: number
  eval: number
  checkpoint: number
  images: number
  cpu: number
  /** CPU seconds of this process by part (same parts; absent in results of older versions). */
  cpuParts?: TimingParts
}

/** Seconds by part of a training's time. */
export interface TimingParts {
  train: number
  augment: number
  data: number
  eval: number
  checkpoint: number
}

const zeroParts = (): TimingParts => ({ train: 0, augment: 0, data: 0, eval: 0, checkpoint: 0 })

/** The trainer's state as stored in state/ (TrainerState plus the timing, a JSON extension). */
type State = TrainerState & { timing?: TrainTiming }

/** A timing with nothing counted yet. */
export const zeroTiming = (): Required<TrainTiming> => ({
  train: 0,
  augment: 0,
  data: 0,
  eval: 0,
  checkpoint: 0,
  images: 0,
  cpu: 0,
  cpuParts: zeroParts()
})

/** CPU seconds (user + system) between two readings of process.cpuUsage(). */
function cpuDelta(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number {
  return (b.user - a.user + b.system - a.system) / 1e6
}

function addParts(a: TimingParts, b: TimingParts): TimingParts {
  return {
    train: a.train + b.train,
    augment: a.augment + b.augment,
    data: a.data + b.data,
    eval: a.eval + b.eval,
    checkpoint: a.checkpoint + b.checkpoint
  }
}

/** CPU seconds (user + system) of this process since `from`. */
function cpuSince(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1e6
}

const RESULT_FILE = 'result.json'

/** The result of a finished training in `dir`, or null when it has not finished. */
export async function readTrainResult(dir: string): Promise<TrainResult | null> {
  const path = join(dir, RESULT_FILE)
  return existsSync(path) ? (JSON.parse(await fsp.readFile(path, 'utf8')) as TrainResult) : null
}

/** Iterations per epoch: batches of the training pass, a trailing batch of one image dropped (BN needs two). */
export function itersPerEpoch(count: number, batchSize: number): number {
  return Math.floor(count / batchSize) + (count % batchSize > 1 ? 1 : 0)
}

/** Trainable variables of the model (all, or the head only), with stable names. */
function trainableOf(model: tf.LayersModel, which: 'all' | 'head'): NamedVariable[] {
  const layers = which === 'head' ? [model.getLayer(HEAD_LAYER)] : model.layers
  return layers.flatMap((l) =>
    l.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
  )
}

function metricsOf(
  task: TaskKind,
  k: number,
  y: (Int32Array | Float32Array)[],
  probs: Float32Array[],
  loss: number
): SplitMetrics {
  const cat = <T extends Int32Array | Float32Array>(parts: T[], make: (n: number) => T): T => {
    const out = make(parts.reduce((a, p) => a + p.length, 0))
    let o = 0
    for (const p of parts) {
      out.set(p, o)
      o += p.length
    }
    return out
  }
  const yTrue =
    task === 'single'
      ? cat(y as Int32Array[], (n) => new Int32Array(n))
      : cat(y as Float32Array[], (n) => new Float32Array(n))
  const s = scoreAll({ task, k, yTrue, probs: cat(probs, (n) => new Float32Array(n)) })
  return { loss, ...s }
}

/** The selection metric of an epoch record's validation split. */
export function selectionScore(record: EpochRecord, metric: MetricId): number {
  return record.val[metric]
}

/** Evaluates a model on a source in inference mode: mean loss, probabilities and truth. */
export async function evaluateSource(
  model: tf.LayersModel,
  source: BatchSource,
  task: TaskKind,
  k: number,
  opts: { batchSize: number; classWeights?: number[]; uncertain?: UncertainPolicy; signal?: AbortSignal }
): Promise<{ metrics: SplitMetrics; probs: Float32Array[]; y: (Int32Array | Float32Array)[] }> {
  const cw = opts.classWeights ? tf.tensor1d(opts.classWeights) : undefined
  const probs: Float32Array[] = []
  const ys: (Int32Array | Float32Array)[] = []
  let lossSum = 0
  let seen = 0
  try {
    for await (const { x, y, n } of source.batches({ batchSize: opts.batchSize, shuffle: false, seed: 0, epoch: 0 })) {
      const labels = labelTensors(task, y, n, opts.uncertain)
      try {
        const [loss, p] = tf.tidy(() => {
          const logits = model.apply(x, { training: false }) as tf.Tensor2D
          return [
            batchLoss(task, logits, labels, cw).dataSync()[0],
            probabilities(task, logits).dataSync() as Float32Array
          ]
        })
        lossSum += loss * n
        seen += n
        probs.push(Float32Array.from(p))
        ys.push(y)
      } finally {
        x.dispose()
        labels.y.dispose()
        labels.mask?.dispose()
      }
      if (opts.signal?.aborted) break
    }
  } finally {
    cw?.dispose()
  }
  return { metrics: metricsOf(task, k, ys, probs, lossSum / Math.max(seen, 1)), probs, y: ys }
}

/** What a training step works on: the model, its trainable variables, the optimizer and the loss settings. */
export interface StepContext {
  model: tf.LayersModel
  /** The trainable variables (all, or the head's). */
  params: NamedVariable[]
  opt: AdamW
  task: TaskKind
  /** Per class (single) or per label (multi) loss weights. */
  classWeights?: number[]
  uncertain?: UncertainPolicy
  /** At most this many images per forward/backward pass (balanced, see splitBatch), or the exact sizes; default: the whole batch. */
  microBatch?: number | number[]
}

/** What a step returns. */
export interface StepResult {
  /** Mean loss of the whole batch (as one pass over it would give); not finite: no update was applied. */
  loss: number
  /** Probabilities of the batch's images in training mode, n × outputs. */
  probs: Float32Array
}

/**
 * Each micro-batch's share of the full batch's mean loss: the full loss is Σ w·ℓ / Σ w (single:
 * w = the class weight of each image, 1 without weights; multi-label: the count of observed labels),
 * and a micro-batch's mean loss is its own Σ w·ℓ / Σ w, so its share is its Σ w over the batch's.
 */
export function microShares(
  task: TaskKind,
  y: Int32Array | Float32Array,
  n: number,
  sizes: number[],
  classWeights?: number[],
  uncertain: UncertainPolicy = 'ignore'
): number[] {
  const width = y.length / n
  const weightOf = (i: number): number => {
    if (task === 'single') return classWeights ? classWeights[y[i]] : 1
    let observed = 0
    for (let l = 0; l < width; l++) {
      const v = y[i * width + l]
      if (!Number.isNaN(v) && !(v === -1 && uncertain === 'ignore')) observed++
    }
    return observed
  }
  const parts: number[] = []
  let start = 0
  for (const size of sizes) {
    let s = 0
    for (let i = start; i < start + size; i++) s += weightOf(i)
    parts.push(s)
    start += size
  }
  const total = parts.reduce((a, b) => a + b, 0)
  return parts.map((p) => (total > 0 ? p / total : 0))
}

/**
 * The gradients of the batch's mean loss with respect to `ctx.params` (same order), accumulated
 * over micro-batches: each micro-batch's mean loss is weighted by its share ({@link microShares})
 * so the sum equals the full batch's gradient up to float rounding. BatchNorm layers normalise
 * each micro-batch with its own statistics and update their moving averages once per micro-batch.
 * The caller disposes the returned gradients; nothing else is left behind, and at most one
 * micro-batch's activations are alive at a time.
 */
export function accumulatedGradients(
  ctx: StepContext,
  batch: { x: tf.Tensor4D; y: Int32Array | Float32Array; n: number }
): { loss: number; grads: tf.Tensor[]; probs: Float32Array } {
  const { x, y, n } = batch
  const sizes = Array.isArray(ctx.microBatch) ? ctx.microBatch : splitBatch(n, ctx.microBatch ?? n)
  if (sizes.reduce((a, b) => a + b, 0) !== n)
    throw new Error(`micro-batches ${sizes.join('+')} do not add up to the batch of ${n}`)
  const single = sizes.length === 1
  const shares = single ? [1] : microShares(ctx.task, y, n, sizes, ctx.classWeights, ctx.uncertain)
  const width = y.length / n
  const vars = ctx.params.map((p) => p.variable)
  const cw = ctx.classWeights ? tf.tensor1d(ctx.classWeights) : undefined
  let acc: tf.Tensor[] | null = null
  let loss = 0
  const probs: Float32Array[] = []
  try {
    let start = 0
    for (let j = 0; j < sizes.length; j++) {
      const nj = sizes[j]
      const xj = single ? x : tf.slice(x, [start, 0, 0, 0], [nj, -1, -1, -1])
      const labels = labelTensors(
        ctx.task,
        single ? y : y.subarray(start * width, (start + nj) * width),
        nj,
        ctx.uncertain
      )
      let logits: tf.Tensor2D | undefined
      try {
        const { value, grads } = tf.variableGrads(() => {
          logits = tf.keep(ctx.model.apply(xj, { training: true }) as tf.Tensor2D)
          const l = batchLoss(ctx.task, logits, labels, cw)
          return single ? l : tf.mul(l, shares[j])
        }, vars)
        loss += value.dataSync()[0]
        value.dispose()
        const g = vars.map((v) => grads[v.name])
        if (acc === null) acc = g
        else {
          const prev: tf.Tensor[] = acc
          acc = prev.map((a, k) => tf.add(a, g[k]))
          tf.dispose(prev)
          tf.dispose(g)
        }
        probs.push(tf.tidy(() => probabilities(ctx.task, logits as tf.Tensor2D).dataSync() as Float32Array))
      } finally {
        if (xj !== x) xj.dispose()
        logits?.dispose()
        labels.y.dispose()
        labels.mask?.dispose()
      }
      start += nj
    }
  } catch (e) {
    if (acc) tf.dispose(acc)
    throw e
  } finally {
    cw?.dispose()
  }
  const out = new Float32Array(probs.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of probs) {
    out.set(p, o)
    o += p.length
  }
  return { loss, grads: acc ?? [], probs: out }
}

/**
 * One plain training step on a whole single-label batch: loss, every gradient, the AdamW update
 * (the benches' bare step, which the plans are measured against: no micro-batches, nothing kept).
 */
export function bareStep(
  model: tf.LayersModel,
  params: NamedVariable[],
  opt: AdamW,
  x: tf.Tensor4D,
  labels: LabelTensors,
  lr: number
): void {
  const { value, grads } = tf.variableGrads(
    () => batchLoss('single', model.apply(x, { training: true }) as tf.Tensor2D, labels),
    params.map((p) => p.variable)
  )
  value.dataSync()
  value.dispose()
  opt.apply(
    params,
    params.map((p) => grads[p.variable.name]),
    lr
  )
  tf.dispose(grads)
}

/**
 * One training step: the batch's gradients ({@link accumulatedGradients}) and one AdamW update
 * with learning rate `lr`, unless the loss is not finite (then nothing is updated). The epoch loop
 * and `bench train` call it; tf.memory().numTensors is unchanged after it (the caller owns `x`).
 */
export function trainStep(
  ctx: StepContext,
  batch: { x: tf.Tensor4D; y: Int32Array | Float32Array; n: number },
  lr: number
): StepResult {
  const { loss, grads, probs } = accumulatedGradients(ctx, batch)
  try {
    if (Number.isFinite(loss)) ctx.opt.apply(ctx.params, grads, lr)
  } finally {
    tf.dispose(grads)
  }
  return { loss, probs }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/**
 * FF_STEP_PACE_MS (tests only): a pause after every step, outside the timings, so that a test can
 * interrupt a training mid-epoch on a machine fast enough to finish it first. Changes no number.
 */
const STEP_PACE_MS = Math.max(0, Number(process.env.FF_STEP_PACE_MS ?? 0) || 0)

/** Runs (or resumes) one training; see the file header for what it writes. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const finished = await readTrainResult(o.dir)
  if (finished) return finished
  const task = o.meta.task
  const k = o.meta.classes.length
  const keepBest = o.keepBest ?? true
  const stateDir = join(o.dir, 'state')

  let state: State = {
    epoch: 0,
    step: 0,
    seed: o.seed,
    bestValLoss: null,
    bestEpoch: 0,
    sinceBest: 0,
    lr: 0,
    history: [],
    seconds: 0,
    timing: zeroTiming()
  }
  let opt: AdamW
  if (hasCheckpoint(stateDir)) {
    const saved = await readCheckpoint(stateDir)
    setWeights(o.model, saved.weights)
    state = saved.meta.trainer as State
    opt = saved.optimizer ? AdamW.fromSnapshot(saved.optimizer, o.optimizer) : new AdamW(o.optimizer)
  } else {
    opt = o.optimizerState ? AdamW.fromSnapshot(o.optimizerState, o.optimizer) : new AdamW(o.optimizer)
  }
  const snapshots = (o.snapshotEpochs ?? [])
    .filter((e) => e <= state.epoch)
    .map((epoch) => ({ epoch, dir: join(o.dir, `epoch-${epoch}`) }))
  const params = trainableOf(o.model, o.trainable ?? 'all')
  const iters = itersPerEpoch(o.train.count, o.batchSize)
  const save = (dirs: string[]) =>
    writeCheckpoint(dirs, {
      meta: { ...o.meta, trainer: state },
      weights: weightsOf(o.model),
      optimizer: opt.snapshot()
    })
  const result = (status: TrainResult['status'], reason?: string): TrainResult => ({
    status,
    ...(reason ? { reason } : {}),
    epochsTrained: state.epoch,
    bestEpoch: state.bestEpoch,
    bestValLoss: state.bestValLoss,
    history: state.history,
    seconds: state.seconds,
    snapshots,
    timing: state.timing ?? zeroTiming()
  })
  const finish = async (r: TrainResult): Promise<TrainResult> => {
    await fsp.writeFile(join(o.dir, RESULT_FILE), JSON.stringify(r))
    return r
  }

  try {
    while (state.epoch < o.epochs) {
      const epoch = state.epoch + 1
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      const time = zeroTiming()
      const probs: Float32Array[] = []
      const ys: (Int32Array | Float32Array)[] = []
      let lossSum = 0
      let seen = 0
      let i = 0
      let lr = state.lr
      const cpuParts = zeroParts()
      let waited = performance.now()
      let waitedCpu = process.cpuUsage()
      for await (const { x, y, n, seconds: prep } of o.train.batches({
        batchSize: o.batchSize,
        shuffle: true,
        seed: o.seed,
        epoch
      })) {
        const got = performance.now()
        const gotCpu = process.cpuUsage()
        time.augment += prep?.augment ?? 0
        time.data += (got - waited) / 1000 - (prep?.augment ?? 0)
        cpuParts.augment += prep?.augmentCpu ?? 0
        cpuParts.data += cpuDelta(waitedCpu, gotCpu) - (prep?.augmentCpu ?? 0)
        if (n < 2) {
          x.dispose()
          waited = performance.now()
          waitedCpu = process.cpuUsage()
          continue
        }
        if (o.signal?.aborted) {
          x.dispose()
          return result('cancelled')
        }
        lr = lrAt(o.schedule, epoch, i, iters)
        try {
          const step = trainStep(
            {
              model: o.model,
              params,
              opt,
              task,
              classWeights: o.classWeights,
              uncertain: o.uncertain,
              microBatch: o.microBatch
            },
            { x, y, n },
            lr
          )
          const loss = step.loss
          if (!Number.isFinite(loss)) {
            return await finish(
              result(
                'diverged',
                `loss became ${loss} at epoch ${epoch}, iteration ${i + 1} (lr ${lr.toExponential(3)}); the last checkpoint is epoch ${state.epoch}`
              )
            )
          }
          probs.push(step.probs)
          ys.push(y)
          lossSum += loss * n
          seen += n
          o.onStep?.({ epoch, iteration: i + 1, iterations: iters, loss, lr })
        } finally {
          x.dispose()
        }
        i++
        time.images += n
        await tick()
        waited = performance.now()
        waitedCpu = process.cpuUsage()
        time.train += (waited - got) / 1000
        cpuParts.train += cpuDelta(gotCpu, waitedCpu)
        if (STEP_PACE_MS > 0) {
          await new Promise((r) => setTimeout(r, STEP_PACE_MS))
          waited = performance.now()
          waitedCpu = process.cpuUsage()
        }
      }
      if (o.signal?.aborted) return result('cancelled')
      const trainMetrics = metricsOf(task, k, ys, probs, lossSum / Math.max(seen, 1))
      const e0 = performance.now()
      const ec0 = process.cpuUsage()
      const { metrics: val } = await evaluateSource(o.model, o.val, task, k, {
        batchSize: o.evalBatchSize ?? o.batchSize,
        classWeights: o.classWeights,
        uncertain: o.uncertain,
        signal: o.signal
      })
      time.eval += (performance.now() - e0) / 1000
      cpuParts.eval += cpuSince(ec0)
      if (o.signal?.aborted) return result('cancelled')
      if (!Number.isFinite(val.loss)) {
        return await finish(
          result(
            'diverged',
            `validation loss became ${val.loss} at epoch ${epoch}; the last checkpoint is epoch ${state.epoch}`
          )
        )
      }
      const seconds = (performance.now() - t0) / 1000
      const record: EpochRecord = { epoch, lr, train: trainMetrics, val, seconds }
      const improved = state.bestValLoss === null || val.loss < state.bestValLoss
      const before = state.timing ?? zeroTiming()
      state = {
        ...state,
        epoch,
        step: state.step + i,
        lr,
        history: [...state.history, record],
        seconds: state.seconds + seconds,
        bestValLoss: improved ? val.loss : state.bestValLoss,
        bestEpoch: improved ? epoch : state.bestEpoch,
        sinceBest: improved ? 0 : state.sinceBest + 1,
        timing: {
          train: before.train + time.train,
          augment: before.augment + time.augment,
          data: before.data + time.data,
          eval: before.eval + time.eval,
          checkpoint: before.checkpoint,
          images: before.images + time.images,
          cpu: (before.cpu ?? 0) + cpuSince(cpu0),
          cpuParts: addParts(before.cpuParts ?? zeroParts(), cpuParts)
        }
      }
      const c0 = performance.now()
      const cc0 = process.cpuUsage()
      // best/, the snapshot and state/ hold the same bytes: read, serialised and hashed once, written
      // in this order (state/ last: a training killed before it redoes the epoch and rewrites them)
      const dirs = [
        ...(improved && keepBest ? [join(o.dir, 'best')] : []),
        ...(o.snapshotEpochs?.includes(epoch) ? [join(o.dir, `epoch-${epoch}`)] : []),
        stateDir
      ]
      await save(dirs)
      if (o.snapshotEpochs?.includes(epoch)) snapshots.push({ epoch, dir: join(o.dir, `epoch-${epoch}`) })
      // (this epoch's own checkpoint time is counted after the state is written: it cannot hold itself)
      state.timing!.checkpoint += (performance.now() - c0) / 1000
      state.timing!.cpuParts!.checkpoint += cpuSince(cc0)
      state.timing!.cpu = (before.cpu ?? 0) + cpuSince(cpu0)
      o.onEpoch?.(record)
      if (o.patience !== undefined && state.sinceBest >= o.patience && state.epoch < o.epochs) {
        return await finish(
          result(
            'early-stopped',
            `validation loss has not improved for ${o.patience} epochs (best at epoch ${state.bestEpoch})`
          )
        )
      }
    }
    return await finish(result('done'))
  } finally {
    opt.dispose()
  }
}
