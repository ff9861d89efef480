/**
 * Bootstrap statistics over a test set: percentile 95% confidence intervals for any metric,
 * and a paired test between two methods scored on the same images. Resamples where the metric
 * is undefined (e.g. AUROC drawn with one class) are left out and counted.
 */
import { predictionCount, type Predictions } from './index'
import { Rng } from '../data/rng'

/** Settings of a bootstrap. */
export interface BootstrapOptions {
  /** Number of resamples (≥ 1; default 1,000). */
  resamples?: number
  /** PRNG seed; the same seed gives the same resamples (default 0). */
  seed?: number
  /** Two-sided confidence level in (0, 1) (default 0.95). */
  level?: number
}

/** A point estimate with its bootstrap percentile interval. */
export type ConfidenceInterval = {
  /** The metric on the full set (NaN if undefined). */
  value: number
  /** Percentile interval [low, high]; NaN bounds when no resample was defined. */
  ci: [number, number]
  /** Resamples drawn. */
  resamples: number
  /** Resamples on which the metric was undefined (NaN) and so left out of the interval. */
  undefinedResamples: number
}

/** Result of a paired bootstrap test of metric(a) − metric(b). */
export type PairedTest = {
  /** metric(a) − metric(b) on the full set. */
  difference: number
  /** Percentile interval of the difference. */
  ci: [number, number]
  /** Two-sided bootstrap p-value of "no difference", in (0, 1]. */
  p: number
  resamples: number
  undefinedResamples: number
}

/** Value at quantile q ∈ [0, 1] of sorted values, linear interpolation (numpy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const h = (sorted.length - 1) * q
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, sorted.length - 1)
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo])
}

/** The rows `idx` of a prediction set (an image may repeat). */
export function gather(p: Predictions, idx: Int32Array): Predictions {
  const k = p.k
  const probs = new Float32Array(idx.length * k)
  const rowTruth = p.task === 'multilabel'
  const yTrue = rowTruth ? new Float32Array(idx.length * k) : new Int32Array(idx.length)
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r]
    probs.set(p.probs.subarray(i * k, i * k + k), r * k)
    if (rowTruth) yTrue.set(p.yTrue.subarray(i * k, i * k + k), r * k)
    else yTrue[r] = p.yTrue[i]
  }
  return { ...p, yTrue, probs }
}

function* resampleIndices(n: number, opts: BootstrapOptions): Generator<Int32Array> {
  const b = opts.resamples ?? 1000
  if (!(b >= 1)) throw new Error(`bootstrap: resamples must be ≥ 1, got ${b}`)
  const rng = new Rng(opts.seed ?? 0)
  for (let r = 0; r < b; r++) yield Int32Array.from({ length: n }, () => rng.int(n))
}

function interval(values: number[], level: number): [number, number] {
  const sorted = values.slice().sort((x, y) => x - y)
  const alpha = (1 - level) / 2
  return [quantileSorted(sorted, alpha), quantileSorted(sorted, 1 - alpha)]
}

/** Bootstrap percentile confidence intervals for several metrics at once (same resamples for each). */
export function bootstrapMany<K extends string>(
  p: Predictions,
  metrics: Record<K, (p: Predictions) => number>,
  opts: BootstrapOptions = {}
): Record<K, ConfidenceInterval> {
  const keys = Object.keys(metrics) as K[]
  const draws = new Map<K, number[]>(keys.map((k) => [k, []]))
  const undef = new Map<K, number>(keys.map((k) => [k, 0]))
  let count = 0
  for (const idx of resampleIndices(predictionCount(p), opts)) {
    count++
    const q = gather(p, idx)
    for (const k of keys) {
      const v = metrics[k](q)
      if (Number.isNaN(v)) undef.set(k, undef.get(k)! + 1)
      else draws.get(k)!.push(v)
    }
  }
  const level = opts.level ?? 0.95
  return Object.fromEntries(
    keys.map((k) => [
      k,
      {
        value: metrics[k](p),
        ci: interval(draws.get(k)!, level),
        resamples: count,
        undefinedResamples: undef.get(k)!
      }
    ])
  ) as Record<K, ConfidenceInterval>
}

/** Bootstrap percentile confidence interval of one metric. */
export function bootstrapCI(
  p: Predictions,
  metric: (p: Predictions) => number,
  opts: BootstrapOptions = {}
): ConfidenceInterval {
  return bootstrapMany(p, { m: metric }, opts).m
}

/**
 * Paired bootstrap test between two methods' predictions on the same images: each resample
 * draws the same image indices for both, and the metric difference a − b is recorded.
 */
export function pairedBootstrap(
  a: Predictions,
  b: Predictions,
  metric: (p: Predictions) => number,
  opts: BootstrapOptions = {}
): PairedTest {
  const n = predictionCount(a)
  if (predictionCount(b) !== n || a.k !== b.k) {
    throw new Error(
      `paired bootstrap: the two prediction sets differ in size (${n}×${a.k} vs ${predictionCount(b)}×${b.k})`
    )
  }
  const diffs: number[] = []
  let count = 0
  let undefinedResamples = 0
  for (const idx of resampleIndices(n, opts)) {
    count++
    const d = metric(gather(a, idx)) - metric(gather(b, idx))
    if (Number.isNaN(d)) undefinedResamples++
    else diffs.push(d)
  }
  const atMost = diffs.filter((d) => d <= 0).length
  const atLeast = diffs.filter((d) => d >= 0).length
  return {
    difference: metric(a) - metric(b),
    ci: interval(diffs, opts.level ?? 0.95),
    // add-one so a finite bootstrap never claims p = 0
    p: diffs.length === 0 ? NaN : Math.min(1, (2 * (Math.min(atMost, atLeast) + 1)) / (diffs.length + 1)),
    resamples: count,
    undefinedResamples
  }
}
