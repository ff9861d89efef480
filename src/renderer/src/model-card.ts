/** The parts of an export job's model card (src/shared/job-results.ts ExportResult) the interface shows. */
import type { ExportResult } from '../../shared/job-results'

/** The parts of a model card the interface shows. */
export interface CardView {
  modelName: string
  createdAt: string
  architecture: string
  dataset: string
  task: string
  classes: string[]
  method: string
  description: string
  ingredients: number
  metrics: { split: string; metric: string; value: number; lo: number | null; hi: number | null; n: number | null }[]
  weightsSha256: string
}

/** The card of an export job's result, or null when there is none yet. */
export function readCard(result: ExportResult | null): CardView | null {
  if (!result) return null
  const { modelName, createdAt, architecture, dataset, method, metrics, weightsSha256 } = result.card
  return {
    modelName,
    createdAt,
    architecture: architecture.name,
    dataset: dataset.name,
    task: dataset.task,
    classes: dataset.classes,
    method: method.kind,
    description: method.description ?? '',
    ingredients: method.ingredients.length,
    // a metric undefined on its split (NaN) arrives as null in JSON: nothing to show
    metrics: metrics.flatMap(({ split, metric, value, ci95, n }) =>
      typeof value === 'number'
        ? [{ split, metric, value, lo: ci95?.[0] ?? null, hi: ci95?.[1] ?? null, n: n ?? null }]
        : []
    ),
    weightsSha256
  }
}
