/**
 * The greedy soup selection loop (Wortsman et al.): candidates sorted by their own validation
 * score, best first; the soup starts as the best; each next candidate is kept only if the
 * uniform average of the kept ones plus it scores strictly higher (or, with ties 'accept', at
 * least as high). The result is never worse on validation than the best candidate.
 */
import { mixUniform, rank, type Recipe } from './recipe'

/** What to do with a candidate whose trial soup scores exactly the best so far. */
export type TiesRule = 'reject' | 'accept'

/** Something a greedy soup can take: a member, or a soup of a group. */
export interface Candidate {
  /** Member id or group key. */
  id: string
  /** Its recipe over members (a member: itself with weight 1). */
  recipe: Recipe
  /** Its own validation score (higher is better; NaN ranks last). */
  val: number
}

/** One step of a greedy loop. */
export type GreedyStep = {
  /** Where the loop ran: a group label, or 'global' / 'all'. */
  scope: string
  /** Candidate tried (the first step is the starting candidate, always kept). */
  candidate: string
  /** Validation score of the trial soup (kept ∪ {candidate}). */
  score: number
  kept: boolean
  /** Best validation score after this step. */
  best: number
}

/** Result of a greedy soup. */
export interface GreedyResult {
  /** Flattened recipe of the soup (uniform over the kept candidates). */
  recipe: Recipe
  /** Its validation score. */
  val: number
  /** Ids of the kept candidates, in the order tried. */
  kept: string[]
  /** Every step, in order. */
  steps: GreedyStep[]
}

/** Candidates sorted best first by validation score (stable: equal scores keep their given order). */
export function rankCandidates<T extends { val: number }>(cands: readonly T[]): T[] {
  return cands
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(b.c.val) - rank(a.c.val) || a.i - b.i)
    .map((x) => x.c)
}

/**
 * Greedy soup over candidates.
 * @param score validation score of a recipe (higher is better)
 */
export async function greedySoup(
  candidates: readonly Candidate[],
  score: (r: Recipe) => Promise<number>,
  options: { ties?: TiesRule; scope?: string } = {}
): Promise<GreedyResult> {
  if (candidates.length === 0) throw new Error('greedy soup: no candidates')
  const scope = options.scope ?? 'all'
  const accept = (s: number, best: number): boolean =>
    options.ties === 'accept' ? rank(s) >= rank(best) && !Number.isNaN(s) : rank(s) > rank(best)
  const [first, ...rest] = rankCandidates(candidates)
  let kept = [first]
  let best = first.val
  const steps: GreedyStep[] = [{ scope, candidate: first.id, score: first.val, kept: true, best }]
  for (const c of rest) {
    const trial = [...kept, c]
    const s = await score(mixUniform(trial.map((t) => t.recipe)))
    const keep = accept(s, best)
    if (keep) {
      kept = trial
      best = s
    }
    steps.push({ scope, candidate: c.id, score: s, kept: keep, best })
  }
  return { recipe: mixUniform(kept.map((k) => k.recipe)), val: best, kept: kept.map((k) => k.id), steps }
}
