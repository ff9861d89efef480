/**
 * The metric registry: every metric the app reports, listed once. Each config scores a
 * {@link Predictions} set; the fusion selection loops, bootstrap and CLI all go through it.
 */
import type { TaskKind } from '../data/types'
import { METRIC_INFO, type MetricId as SharedMetricId } from '../../../shared/vocabulary'
import {
  accuracy,
  argmaxRows,
  macroF1,
  macroRecall,
  multilabelAuroc,
  multilabelThresholdMetrics,
  ovrMacroAuroc,
  quadraticKappa
} from './metrics'

/** Model outputs on one split, with the truth. */
export interface Predictions {
  /** Single-label (softmax) or multi-label (per-label sigmoid). */
  task: TaskKind
  /** Number of classes (single-label) or labels (multi-label). */
  k: number
  /** Single-label: class index per image (N). Multi-label: N × k of 1 / 0 / NaN (blank). */
  yTrue: Int32Array | Float32Array
  /** N × k row-major probabilities (softmax rows or sigmoid scores), each in [0, 1]. */
  probs: Float32Array
}

/** Identifier of a reported metric. */
export type MetricId = SharedMetricId

/** One metric of the registry. */
export interface MetricConfig {
  id: MetricId
  /** Name shown in tables and charts. */
  label: string
  /** Score of a prediction set; NaN where undefined (e.g. AUROC with a single class). */
  compute(p: Predictions): number
}

/** Number of images in a prediction set. */
export function predictionCount(p: Predictions): number {
  return p.task === 'single' ? p.yTrue.length : p.yTrue.length / p.k
}

function thresholded(p: Predictions): ReturnType<typeof multilabelThresholdMetrics> {
  return multilabelThresholdMetrics(p.yTrue, p.probs, p.k)
}

/** Single-label scoring by arg-max prediction; multi-label by a 0.5 threshold with blanks masked. */
function single(p: Predictions, f: (yTrue: Int32Array | Float32Array, yPred: Int32Array) => number): number {
  return f(p.yTrue, argmaxRows(p.probs, p.k))
}

/** How each metric is computed. */
const COMPUTE: Record<MetricId, MetricConfig['compute']> = {
  acc: (p) => (p.task === 'single' ? single(p, accuracy) : thresholded(p).acc),
  f1: (p) => (p.task === 'single' ? single(p, macroF1) : thresholded(p).f1),
  recall: (p) => (p.task === 'single' ? single(p, macroRecall) : thresholded(p).recall),
  // Quadratic kappa needs ordered single labels; it is undefined for multi-label data.
  kappa: (p) => (p.task === 'single' ? single(p, quadraticKappa) : NaN),
  auc: (p) => (p.task === 'single' ? ovrMacroAuroc(p.yTrue, p.probs, p.k) : multilabelAuroc(p.yTrue, p.probs, p.k))
}

/** Every metric, in display order, labelled as in the vocabulary. */
export const METRICS: readonly MetricConfig[] = METRIC_INFO.map((m) => ({
  id: m.id,
  label: m.label,
  compute: COMPUTE[m.id]
}))

/** Metric config by id; throws naming the id when unknown. */
export function metricById(id: string): MetricConfig {
  const m = METRICS.find((c) => c.id === id)
  if (!m) throw new Error(`unknown metric '${id}' (known: ${METRICS.map((c) => c.id).join(', ')})`)
  return m
}

/** Every registered metric of a prediction set. */
export function scoreAll(p: Predictions): Record<MetricId, number> {
  return Object.fromEntries(METRICS.map((m) => [m.id, m.compute(p)])) as Record<MetricId, number>
}
