/**
 * The fuse job's typed result (src/shared/job-results.ts FuseResult) as the Fusion and OOD
 * views show it: intervals as lo/hi, per-level corruption values, the ensemble's cost.
 */
import type { Json } from '../../shared/api'
import type { FuseMethodRow, FuseResult, ValueCi } from '../../shared/job-results'
import { METRIC_INFO } from '../../shared/vocabulary'

/** A metric with its 95% bootstrap interval (null bounds when undefined). */
export interface MetricCi {
  value: number | null
  lo: number | null
  hi: number | null
}

/** One method's row. */
export interface FuseRow {
  method: string
  label: string
  kind: string
  /** Soup id of the saved model, or null (best individual, ensemble). */
  modelId: string | null
  /** Validation score on the selection metric. */
  val: number | null
  /** Test metrics by id (acc, f1, recall, kappa, auc). */
  test: Record<string, MetricCi>
  testN: number | null
  /** Paired bootstrap against the best individual on the selection metric, or null. */
  vsBest: { difference: number | null; lo: number | null; hi: number | null; p: number | null } | null
  /** Per OOD dataset id: metrics. */
  ood: Record<string, Record<string, MetricCi>>
  /** Per corruption: metric values at severities 1, 2, 3. */
  corruptions: Record<string, Record<string, number | null>[]>
  epochs: number | null
  seconds: number | null
  /** Forward passes per image at inference (1 for a soup, N for an ensemble). */
  inferencesPerImage: number | null
  /** The soup tree as the engine stored it. */
  tree: Json
}

/** A fuse job's result. */
export interface FuseView {
  runId: string
  metric: string
  groupBy: string
  backend: string
  notes: string[]
  methods: FuseRow[]
  /** What the corruption suite ran on: test images of how many, whether the ensemble too (null: not run or not recorded). */
  corruptionSuite: { images: number; of: number; ensemble: boolean } | null
}

const withCi = ({ value, ci }: ValueCi): MetricCi => ({ value, lo: ci[0], hi: ci[1] })
const mapValues = <A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]))

/** The forward passes per image a method's accounting records, or null. */
function inferencesPerImage(accounting: Json): number | null {
  const n =
    accounting && typeof accounting === 'object' && !Array.isArray(accounting) ? accounting.inferencesPerImage : null
  return typeof n === 'number' ? n : null
}

function row(r: FuseMethodRow): FuseRow {
  return {
    method: r.method,
    label: r.label,
    kind: r.kind,
    modelId: r.modelId,
    val: r.val,
    test: mapValues(r.test, withCi),
    testN: r.testN,
    vsBest: r.vsBest
      ? { difference: r.vsBest.difference, lo: r.vsBest.ci[0], hi: r.vsBest.ci[1], p: r.vsBest.p }
      : null,
    ood: mapValues(r.ood, (o) => mapValues(o.metrics, withCi)),
    corruptions: r.corruptions ?? {},
    epochs: r.epochs,
    seconds: r.seconds,
    inferencesPerImage: inferencesPerImage(r.accounting),
    tree: r.tree
  }
}

/** The rows of a fuse job's result, or null when there is none yet. */
export function readFuseResult(result: FuseResult | null): FuseView | null {
  if (!result) return null
  const { runId, metric, groupBy, backend, notes, methods, corruptionSuite } = result
  return {
    runId,
    metric,
    groupBy,
    backend,
    notes,
    corruptionSuite: corruptionSuite
      ? { images: corruptionSuite.images, of: corruptionSuite.of, ensemble: corruptionSuite.ensemble }
      : null,
    methods: methods.map(row)
  }
}

/** Human names of the engine's metric ids. */
export const METRIC_NAMES: Record<string, string> = Object.fromEntries(METRIC_INFO.map((m) => [m.id, m.name]))

/** A metric id's name for people. */
export function metricName(id: string): string {
  return METRIC_NAMES[id] ?? id
}
