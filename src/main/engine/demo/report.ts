/**
 * The pipeline's report (pure): picks the soup to export, flattens both fusion results into one
 * methods table and draws a soup's tree as text.
 */
import { PAPER_METHOD_IDS } from '../../../shared/vocabulary'
import type { SoupTreeNode } from '../../../shared/job-results'

/** A metric with its bootstrap 95% confidence interval. */
export interface MetricCi {
  value: number | null
  ci: [number | null, number | null]
}

/** The part of a fuse job's method row the report uses. */
export interface FuseRow {
  method: string
  kind: string
  /** Soup id (or the best member's id); null for the ensemble. */
  modelId: string | null
  /** Validation score on the selection metric. */
  val: number | null
  test: Record<string, MetricCi>
  ood: Record<string, { n: number; metrics: Record<string, MetricCi> }>
  corruptions: Record<string, Array<Record<string, number | null>>> | null
  /** Training epochs of the members it uses. */
  epochs: number
  /** Training + fusion wall time, seconds. */
  seconds: number
  tree: SoupTreeNode
}

/** A node of a soup tree (engine/fusion/methods.ts SoupNode, as JSON: NaN becomes null). */
export type { SoupTreeNode }

/** A fuse job's result (the part used here). */
export interface FuseResult {
  runId: string
  metric: string
  methods: FuseRow[]
}

/** One row of the methods table. */
export interface MethodsRow extends Omit<FuseRow, 'tree' | 'corruptions'> {
  /** The Fission plan whose members were fused: grid or fgg. */
  plan: string
  /** Mean of the selection metric over the corruption suite (null when not run). */
  corruptionMean: number | null
}

/** The paper's methods whose result is a soup: one model, exported by the pipeline (not the best member, not the ensemble). */
export const SOUP_METHOD_IDS: readonly string[] = PAPER_METHOD_IDS.filter((m) => m !== 'best' && m !== 'ensemble')
const SINGLE_MODEL_SOUPS = new Set<string>(SOUP_METHOD_IDS)

/** The soup with the highest validation score over all plans (first in plan then method order on ties). */
export function pickBestSoup(
  fused: Record<string, FuseResult>
): { plan: string; method: string; modelId: string; val: number; tree: SoupTreeNode } | null {
  let best: { plan: string; method: string; modelId: string; val: number; tree: SoupTreeNode } | null = null
  for (const [plan, r] of Object.entries(fused)) {
    for (const m of r.methods) {
      if (!SINGLE_MODEL_SOUPS.has(m.method) || !m.modelId || m.val === null || !Number.isFinite(m.val)) continue
      if (!best || m.val > best.val) best = { plan, method: m.method, modelId: m.modelId, val: m.val, tree: m.tree }
    }
  }
  return best
}

/** Both plans' methods as one table. */
export function methodsTable(fused: Record<string, FuseResult>, metric: string): MethodsRow[] {
  return Object.entries(fused).flatMap(([plan, r]) =>
    r.methods.map((m) => {
      const { tree: _tree, corruptions, ...rest } = m
      const scores = corruptions
        ? Object.values(corruptions)
            .flat()
            .map((s) => s[metric])
            .filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
        : []
      return {
        plan,
        ...rest,
        corruptionMean: scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null
      }
    })
  )
}

/** A soup tree as indented text lines: id, validation score, weight, and whether it was kept. */
export function treeText(node: SoupTreeNode, depth = 0): string[] {
  const val = node.val === null || !Number.isFinite(node.val) ? '—' : node.val.toFixed(3)
  const line = `${'  '.repeat(depth)}${depth > 0 ? (node.kept ? '+ ' : '- ') : ''}${node.id}  val ${val}${depth > 0 ? `  weight ${node.weight.toFixed(3)}${node.kept ? '' : '  (not kept)'}` : ''}`
  return [line, ...(node.children ?? []).flatMap((c) => treeText(c, depth + 1))]
}
