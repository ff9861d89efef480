/**
 * Reads the result of a 'fuse' job (the engine's FuseReport rows, as JSON) into typed rows,
 * checking every field: the renderer treats what it receives as untrusted.
 */
import type { Json } from '../../shared/api'
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

type Obj = Record<string, Json>
const obj = (v: Json | undefined): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? v : null)
const num = (v: Json | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const str = (v: Json | undefined, d = ''): string => (typeof v === 'string' ? v : d)

function metricMap(v: Json | undefined): Record<string, MetricCi> {
  const out: Record<string, MetricCi> = {}
  for (const [k, m] of Object.entries(obj(v) ?? {})) {
    const o = obj(m)
    const ci = Array.isArray(o?.ci) ? o.ci : []
    if (o) out[k] = { value: num(o.value), lo: num(ci[0]), hi: num(ci[1]) }
  }
  return out
}

function row(v: Json): FuseRow | null {
  const r = obj(v)
  if (!r || typeof r.method !== 'string') return null
  const vs = obj(r.vsBest)
  const vsCi = Array.isArray(vs?.ci) ? vs.ci : []
  const ood: FuseRow['ood'] = {}
  for (const [id, o] of Object.entries(obj(r.ood) ?? {})) ood[id] = metricMap(obj(o)?.metrics)
  const corruptions: FuseRow['corruptions'] = {}
  for (const [id, levels] of Object.entries(obj(r.corruptions) ?? {})) {
    if (Array.isArray(levels)) corruptions[id] = levels.map((l) => Object.fromEntries(Object.entries(obj(l) ?? {}).map(([k, x]) => [k, num(x)])))
  }
  return {
    method: r.method,
    label: str(r.label, r.method),
    kind: str(r.kind),
    modelId: typeof r.modelId === 'string' ? r.modelId : null,
    val: num(r.val),
    test: metricMap(r.test),
    testN: num(r.testN),
    vsBest: vs ? { difference: num(vs.difference), lo: num(vsCi[0]), hi: num(vsCi[1]), p: num(vs.p) } : null,
    ood,
    corruptions,
    epochs: num(r.epochs),
    seconds: num(r.seconds),
    inferencesPerImage: num(obj(r.accounting)?.inferencesPerImage),
    tree: r.tree ?? null
  }
}

/** The rows of a fuse job result, or null when it is not one. */
export function readFuseResult(result: Json): FuseView | null {
  const r = obj(result)
  if (!r || !Array.isArray(r.methods)) return null
  return {
    runId: str(r.runId),
    metric: str(r.metric),
    groupBy: str(r.groupBy),
    backend: str(r.backend),
    notes: Array.isArray(r.notes) ? r.notes.filter((n): n is string => typeof n === 'string') : [],
    corruptionSuite: (() => {
      const s = obj(r.corruptionSuite)
      const images = num(s?.images)
      const of = num(s?.of)
      return s && images !== null && of !== null ? { images, of, ensemble: s.ensemble !== false } : null
    })(),
    methods: r.methods.flatMap((m) => {
      const x = row(m)
      return x ? [x] : []
    })
  }
}

/** Human names of the engine's metric ids. */
export const METRIC_NAMES: Record<string, string> = Object.fromEntries(METRIC_INFO.map((m) => [m.id, m.name]))

/** A metric id's name for people. */
export function metricName(id: string): string {
  return METRIC_NAMES[id] ?? id
}
