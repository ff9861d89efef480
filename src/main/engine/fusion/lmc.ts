/**
 * Linear mode connectivity (Frankle et al., 2020; the paper's supplementary figure 1): loss and
 * metrics along θ(λ) = (1 − λ)·θA + λ·θB, and the barrier, the highest loss along the path
 * above the straight line between the end losses. Also the evaluator of weight sets that the
 * loss-surface plane (plane.ts) shares: one model instance, weights assigned per point, the
 * split scored in inference mode exactly as the trainer scores validation (same loss, metrics).
 *
 * Every float weight is interpolated, BatchNorm running statistics included (so λ = 0 and 1
 * are exactly A and B); with `bnBatches` > 0 the statistics of every point, ends included, are
 * re-estimated on that many shuffled training batches instead. `int` buffers are A's.
 */
import type * as tf from '@tensorflow/tfjs'
import { DatasetReader } from '../data/reader'
import type { SplitName } from '../data/types'
import { readerSource } from '../fission/source'
import { evaluateSource } from '../fission/trainer'
import { loadModel, readCheckpoint, setWeights, type Checkpoint, type NamedWeight } from '../models/checkpoint'
import { reestimateBatchNorm } from './batchnorm'
import type { MetricId } from '../../../shared/vocabulary'
import { float32Of } from './average'

/** Loss and metrics of one weight set on the split. */
export type PointScore = {
  loss: number
  metrics: Record<MetricId, number>
}

/** What the evaluator needs. */
export interface WeightEvaluatorOptions {
  /** Checkpoint whose architecture, classes and normalisation every scored weight set shares. */
  template: Checkpoint
  datasetDir: string
  split?: SplitName
  /** Re-estimate BatchNorm statistics on this many training batches of 64 before scoring (0 = no). */
  bnBatches?: number
  batchSize?: number
  signal?: AbortSignal
}

/** Scores weight sets of one architecture on one split (see the file header). */
export class WeightEvaluator {
  private constructor(
    private readonly o: WeightEvaluatorOptions,
    private readonly reader: DatasetReader,
    private readonly model: tf.LayersModel
  ) {}

  static async open(o: WeightEvaluatorOptions): Promise<WeightEvaluator> {
    const reader = await DatasetReader.open(o.datasetDir)
    try {
      if (reader.meta.classes.length !== o.template.meta.classes.length) {
        throw new Error(
          `the model has ${o.template.meta.classes.length} outputs but the dataset has ${reader.meta.classes.length} classes`
        )
      }
      if (reader.count(o.split ?? 'val') === 0) throw new Error(`the dataset has no ${o.split ?? 'val'} images`)
      return new WeightEvaluator(o, reader, await loadModel(o.template))
    } catch (e) {
      await reader.close()
      throw e
    }
  }

  private prep() {
    const m = this.o.template.meta
    return { channels: m.inputShape[2] as 1 | 3, ...(m.normalization ? { normalisation: m.normalization } : {}) }
  }

  /** Loss and metrics of `weights` (names and shapes of the template). */
  async score(weights: NamedWeight[]): Promise<PointScore> {
    this.o.signal?.throwIfAborted()
    setWeights(this.model, weights)
    const n = this.o.bnBatches ?? 0
    if (n > 0) {
      const source = readerSource(this.reader, 'train', this.prep())
      const batches = async function* (): AsyncGenerator<tf.Tensor4D> {
        let i = 0
        for await (const b of source.batches({ batchSize: 64, shuffle: true, seed: 0, epoch: 0 })) {
          if (i++ >= n) {
            b.x.dispose()
            break
          }
          yield b.x
        }
      }
      await reestimateBatchNorm(this.model, batches())
    }
    const src = readerSource(this.reader, this.o.split ?? 'val', this.prep())
    const meta = this.reader.meta
    const { metrics } = await evaluateSource(this.model, src, meta.task, meta.classes.length, {
      batchSize: this.o.batchSize ?? 256,
      signal: this.o.signal
    })
    this.o.signal?.throwIfAborted()
    const { loss, ...rest } = metrics
    return { loss, metrics: rest }
  }

  async close(): Promise<void> {
    this.model.dispose()
    await this.reader.close()
  }
}

/** Same names and shapes, or an error naming the first difference. */
export function checkSameLayout(a: readonly NamedWeight[], b: readonly NamedWeight[], what: string): void {
  if (a.length !== b.length)
    throw new Error(`${what}: the models have ${a.length} and ${b.length} weights (different architectures)`)
  a.forEach((e, i) => {
    const f = b[i]
    if (e.name !== f.name || e.shape.length !== f.shape.length || e.shape.some((d, j) => d !== f.shape[j])) {
      throw new Error(
        `${what}: weight ${i} is ${e.name} [${e.shape}] in one model and ${f.name} [${f.shape}] in the other (different architectures)`
      )
    }
  })
}

/** (1 − λ)·a + λ·b on float weights (float64 arithmetic, one rounding); `int` buffers from a. */
export function interpolateWeights(
  a: readonly NamedWeight[],
  b: readonly NamedWeight[],
  lambda: number
): NamedWeight[] {
  return a.map((e, i) =>
    e.kind === 'int'
      ? e
      : { ...e, data: float32Of(e.data.length, (j) => (1 - lambda) * e.data[j] + lambda * b[i].data[j]) }
  )
}

/** One point of the path. */
export type LmcPoint = PointScore & {
  lambda: number
}

/** Result of {@link interpolate}. */
export interface LmcResult {
  points: LmcPoint[]
  /** max over λ of loss(λ) − ((1 − t)·loss(λ₀) + t·loss(λ₁)), t the position of λ in the range. */
  barrier: number
  /** λ of that maximum. */
  barrierLambda: number
}

/** Options of {@link interpolate}. */
export interface LmcOptions {
  a: string
  b: string
  datasetDir: string
  /** Points along the path, ends included (default 11). */
  steps?: number
  /** λ range (default [0, 1]). */
  range?: [number, number]
  split?: SplitName
  bnBatches?: number
  batchSize?: number
  signal?: AbortSignal
  /** Points already scored by an earlier attempt (kept). */
  done?: LmcPoint[]
  /** Called after each point. */
  onPoint?: (p: LmcPoint, done: number, total: number) => void
}

/** The λ values of a path. */
export function lambdas(steps: number, range: [number, number]): number[] {
  if (!Number.isInteger(steps) || steps < 2) throw new Error(`steps: expected a whole number ≥ 2, got ${steps}`)
  if (!(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[1] > range[0]))
    throw new Error(`range: expected two numbers lo < hi, got ${range.join(',')}`)
  return Array.from({ length: steps }, (_, i) =>
    i === steps - 1 ? range[1] : range[0] + ((range[1] - range[0]) * i) / (steps - 1)
  )
}

/** Barrier of a path (see {@link LmcResult}). */
export function barrierOf(points: readonly { lambda: number; loss: number }[]): { barrier: number; lambda: number } {
  const first = points[0]
  const last = points[points.length - 1]
  let best = { barrier: -Infinity, lambda: first.lambda }
  for (const p of points) {
    const t = (p.lambda - first.lambda) / (last.lambda - first.lambda)
    const excess = p.loss - ((1 - t) * first.loss + t * last.loss)
    if (excess > best.barrier) best = { barrier: excess, lambda: p.lambda }
  }
  return best
}

/** Loss and metrics along the segment from A to B (see the file header). */
export async function interpolate(o: LmcOptions): Promise<LmcResult> {
  const grid = lambdas(o.steps ?? 11, o.range ?? [0, 1])
  const a = await readCheckpoint(o.a, { optimizer: false })
  const b = await readCheckpoint(o.b, { optimizer: false })
  checkSameLayout(a.weights, b.weights, 'interpolate')
  const done = new Map((o.done ?? []).map((p) => [p.lambda, p]))
  const ev = await WeightEvaluator.open({
    template: a,
    datasetDir: o.datasetDir,
    split: o.split,
    bnBatches: o.bnBatches,
    batchSize: o.batchSize,
    signal: o.signal
  })
  const points: LmcPoint[] = []
  try {
    for (const lambda of grid) {
      const p = done.get(lambda) ?? { lambda, ...(await ev.score(interpolateWeights(a.weights, b.weights, lambda))) }
      points.push(p)
      o.onPoint?.(p, points.length, grid.length)
    }
  } finally {
    await ev.close()
  }
  const bar = barrierOf(points)
  return { points, barrier: bar.barrier, barrierLambda: bar.lambda }
}
