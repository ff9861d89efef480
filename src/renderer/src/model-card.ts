/** Reads the model card an export job returns (checked field by field; pure). */
import type { Json } from '../../shared/api'

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

type Obj = Record<string, Json>
const obj = (v: Json | undefined): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? v : null)
const str = (v: Json | undefined): string => (typeof v === 'string' ? v : '')
const num = (v: Json | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** The card of an export job result ({ file, sha256, card, files }), or null. */
export function readCard(result: Json): CardView | null {
  const card = obj(obj(result)?.card)
  if (!card || typeof card.modelName !== 'string') return null
  const dataset = obj(card.dataset)
  const method = obj(card.method)
  return {
    modelName: card.modelName,
    createdAt: str(card.createdAt),
    architecture: str(obj(card.architecture)?.name),
    dataset: str(dataset?.name),
    task: str(dataset?.task),
    classes: Array.isArray(dataset?.classes) ? dataset.classes.filter((c): c is string => typeof c === 'string') : [],
    method: str(method?.kind),
    description: str(method?.description),
    ingredients: Array.isArray(method?.ingredients) ? method.ingredients.length : 0,
    metrics: (Array.isArray(card.metrics) ? card.metrics : []).flatMap((m) => {
      const o = obj(m)
      const value = num(o?.value)
      if (!o || value === null) return []
      const ci = Array.isArray(o.ci95) ? o.ci95 : []
      return [{ split: str(o.split), metric: str(o.metric), value, lo: num(ci[0]), hi: num(ci[1]), n: num(o.n) }]
    }),
    weightsSha256: str(card.weightsSha256)
  }
}
