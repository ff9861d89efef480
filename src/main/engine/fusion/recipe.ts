/**
 * Soup recipes and the scoring cache. A recipe is a flat weighted average over members
 * (member id → weight, weights summing to 1): every soup, however nested (a greedy soup of
 * groups' uniform soups), flattens to one, so one scorer serves every method.
 */

/** Member id → weight in [0, 1]; the weights sum to 1. */
export type Recipe = Readonly<Record<string, number>>

/** Uniform recipe over member ids. */
export function uniformRecipe(ids: readonly string[]): Recipe {
  if (ids.length === 0) throw new Error('soup: no members')
  return Object.fromEntries(ids.map((id) => [id, 1 / ids.length]))
}

/** Uniform average of soups: each soup counts 1/k, spread over its own members' weights. */
export function mixUniform(recipes: readonly Recipe[]): Recipe {
  if (recipes.length === 0) throw new Error('soup: nothing to mix')
  const out: Record<string, number> = {}
  for (const r of recipes) for (const [id, w] of Object.entries(r)) out[id] = (out[id] ?? 0) + w / recipes.length
  return out
}

/** Canonical text of a recipe (sorted ids, weights to 12 significant digits), for caching. */
export function recipeKey(r: Recipe): string {
  return Object.entries(r)
    .filter(([, w]) => w > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, w]) => `${id}:${w.toPrecision(12)}`)
    .join(',')
}

/** A validation score with the seconds its computation took (averaging + inference). */
export interface Scored {
  /** Score on the selection metric, higher is better; NaN when undefined. */
  value: number
  /** Seconds spent computing it the first time. */
  seconds: number
}

/** A memoised scorer: each distinct recipe is evaluated once. */
export interface Scorer {
  score(r: Recipe): Promise<Scored>
  /** Distinct recipes evaluated so far. */
  readonly evaluations: number
}

/** Wraps an evaluation function (recipe → validation score) with a cache keyed by recipe. */
export function makeScorer(evaluate: (r: Recipe) => Promise<number>): Scorer {
  const cache = new Map<string, Promise<Scored>>()
  return {
    score(r) {
      const key = recipeKey(r)
      let hit = cache.get(key)
      if (!hit) {
        const start = performance.now()
        hit = evaluate(r).then((value) => ({ value, seconds: (performance.now() - start) / 1000 }))
        // a failed evaluation is not cached, so a retry can succeed
        hit.catch(() => cache.delete(key))
        cache.set(key, hit)
      }
      return hit
    },
    get evaluations() {
      return cache.size
    }
  }
}

/** The distinct evaluations a method needed (by key) and what each cost when first computed. */
export class EvaluationLog {
  private readonly used = new Map<string, number>()

  /** Notes `got` as needed under `key`; returns its value. */
  protected record(key: string, got: Scored): number {
    this.used.set(key, got.seconds)
    return got.value
  }

  /** Distinct validation evaluations this method needed. */
  get evaluations(): number {
    return this.used.size
  }

  /** Seconds those evaluations cost (as first computed, whichever method paid for them). */
  get seconds(): number {
    let s = 0
    for (const v of this.used.values()) s += v
    return s
  }
}

/** Per-method accounting over a shared scorer: distinct recipes it needed and their cost. */
export class TrackedScorer extends EvaluationLog {
  constructor(private readonly inner: Scorer) {
    super()
  }

  /** Score through the shared cache, recording the recipe as needed by this method. */
  async score(r: Recipe): Promise<number> {
    return this.record(recipeKey(r), await this.inner.score(r))
  }
}

/** Comparable score: NaN (undefined) ranks below every number. */
export function rank(v: number): number {
  return Number.isNaN(v) ? -Infinity : v
}
