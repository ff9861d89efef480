/**
 * The merge methods as fusion methods, alone and as either level of a generalised hierarchy
 * `hier:OUTER/INNER` (INNER merges each group, OUTER merges the groups' results), with OUTER and
 * INNER any of uniform, greedy, modelstock, ties, dare, taskarith. `hier:greedy/uniform` is the
 * paper's GoU (and likewise gog, uou, uog): those four resolve to the existing methods.
 * Every candidate soup is a {@link MergeSpec}; specs made only of means are scored through the
 * shared recipe scorer (same cache as the paper's soups), the others through a merge scorer.
 */
import { greedySoup, type GreedyStep } from './greedy'
import {
  commonStart,
  linearRecipe,
  MERGE_DEFAULTS,
  MERGE_OPS,
  mergeKey,
  nominalRecipe,
  type MergeOp,
  type MergeSpec
} from './merges'
import type { FusionAccounting, FusionContext, FusionMethodConfig, FusionResult, MethodId, SoupNode } from './methods'
import { FUSION_METHODS, groupMembers, methodInfo } from './methods'
import { EvaluationLog, recipeKey, type Recipe } from './recipe'
import { FUSION_METHOD_IDS, HIER_LEVEL_IDS, PAPER_HIERARCHIES, type HierLevelId } from '../../../shared/vocabulary'

export { makeMergeScorer, type MergeScorer } from './merges'

/** A level of a hierarchy. */
export type LevelMethod = HierLevelId
export const LEVEL_METHODS: readonly LevelMethod[] = HIER_LEVEL_IDS

/** A merge alone, or a hierarchy `hier:OUTER/INNER` of any two levels. */
export const EXTRA_METHOD_PATTERN = new RegExp(
  `^(${MERGE_OPS.join('|')}|hier:(${LEVEL_METHODS.join('|')})/(${LEVEL_METHODS.join('|')}))$`
)

/** `OUTER/INNER` of the paper's hierarchies → their method id (`greedy/uniform` → gou, ...). */
const ALIASES: Record<string, MethodId> = Object.fromEntries(
  Object.entries(PAPER_HIERARCHIES).map(([id, [outer, inner]]) => [`${outer}/${inner}`, id as MethodId])
)

/** Per-method accounting over both shared scorers. */
class Tracker extends EvaluationLog {
  constructor(
    private readonly ctx: FusionContext,
    private readonly method: string
  ) {
    super()
  }

  async score(s: MergeSpec): Promise<number> {
    const r = linearRecipe(s)
    if (r) return this.record(`r:${recipeKey(r)}`, await this.ctx.scorer.score(r))
    if (!this.ctx.mergeScorer)
      throw new Error(`${this.method}: this fusion run cannot evaluate merged models (no merge scorer)`)
    return this.record(`m:${mergeKey(s)}`, await this.ctx.mergeScorer.score(s))
  }
}

interface Cand {
  id: string
  spec: MergeSpec
  val: number
}

interface Combined {
  spec: MergeSpec
  val: number
  /** Candidate id → its weight in this level (nominal for the merge methods). */
  weights: Record<string, number>
  steps: GreedyStep[]
  /** e.g. the task-arithmetic λ chosen. */
  detail?: string
}

function meanOf(cands: readonly Cand[], weights?: Recipe): MergeSpec {
  const used = weights ? cands.filter((c) => (weights[c.id] ?? 0) > 0) : cands
  if (used.length === 1) return used[0].spec
  return {
    op: 'mean',
    inputs: used.map((c) => c.spec),
    ...(weights ? { weights: used.map((c) => weights[c.id]) } : {})
  }
}

/** Merges candidates with one level method. */
async function combine(
  level: LevelMethod,
  cands: Cand[],
  t: Tracker,
  ctx: FusionContext,
  scope: string
): Promise<Combined> {
  const even = Object.fromEntries(cands.map((c) => [c.id, 1 / cands.length]))
  const inputs = cands.map((c) => c.spec)
  // A merge of fixed settings: the candidates weigh alike, no selection steps.
  const fixed = async (spec: MergeSpec): Promise<Combined> => ({
    spec,
    val: await t.score(spec),
    weights: even,
    steps: []
  })
  switch (level) {
    case 'uniform':
      return fixed(meanOf(cands))
    case 'greedy': {
      const byId = new Map(cands.map((c) => [c.id, c]))
      const g = await greedySoup(
        cands.map((c) => ({ id: c.id, recipe: { [c.id]: 1 }, val: c.val })),
        (r) => t.score(meanOf([...byId.values()], r)),
        { ties: ctx.ties, scope }
      )
      return { spec: meanOf(cands, g.recipe), val: g.val, weights: { ...g.recipe }, steps: g.steps }
    }
    case 'modelstock':
      return fixed({ op: 'modelstock', inputs })
    case 'ties':
      return fixed({ op: 'ties', inputs, density: MERGE_DEFAULTS.tiesDensity, lambda: MERGE_DEFAULTS.tiesLambda })
    case 'dare':
      return fixed({ op: 'dare', inputs, p: MERGE_DEFAULTS.dareP, seed: MERGE_DEFAULTS.dareSeed })
    case 'taskarith': {
      let best: { spec: MergeSpec; val: number; lambda: number } | null = null
      const steps: GreedyStep[] = []
      for (const lambda of MERGE_DEFAULTS.taskArithLambdas) {
        const spec: MergeSpec = { op: 'taskarith', inputs, lambda }
        const val = await t.score(spec)
        const better = !best || (!Number.isNaN(val) && (Number.isNaN(best.val) || val > best.val))
        if (better) best = { spec, val, lambda }
        steps.push({ scope, candidate: `λ=${lambda}`, score: val, kept: better, best: best!.val })
      }
      return { spec: best!.spec, val: best!.val, weights: even, steps, detail: `λ=${best!.lambda}` }
    }
  }
}

async function memberNodes(
  ctx: FusionContext,
  ids: readonly string[],
  weights: Record<string, number>
): Promise<SoupNode[]> {
  const out: SoupNode[] = []
  for (const id of ids) {
    const val = (await ctx.scorer.score({ [id]: 1 })).value
    const w = weights[id] ?? 0
    out.push({ level: 'member', id, val, kept: w > 0, weight: w })
  }
  return out
}

function accounting(ctx: FusionContext, t: Tracker): FusionAccounting {
  return {
    members: ctx.members.length,
    memberEpochs: ctx.members.reduce((s, m) => s + m.epochs, 0),
    memberSeconds: ctx.members.reduce((s, m) => s + m.seconds, 0),
    valEvaluations: t.evaluations,
    soupSeconds: t.seconds,
    inferencesPerImage: 1
  }
}

function result(
  method: MethodId,
  spec: MergeSpec,
  val: number,
  tree: SoupNode,
  steps: GreedyStep[],
  ctx: FusionContext,
  t: Tracker
): FusionResult {
  const linear = linearRecipe(spec)
  return {
    method,
    kind: 'soup',
    recipe: linear ?? nominalRecipe(spec),
    ...(linear ? {} : { merge: spec }),
    val,
    tree,
    steps,
    accounting: accounting(ctx, t)
  }
}

/** Member candidates (their scores are tracked only when a greedy level needs them). */
async function memberCands(ctx: FusionContext, ids: readonly string[], t: Tracker, scored: boolean): Promise<Cand[]> {
  const out: Cand[] = []
  for (const id of ids)
    out.push({ id, spec: { op: 'member', id }, val: scored ? await t.score({ op: 'member', id }) : NaN })
  return out
}

/** A merge method over all members (one level). */
function flatMethod(op: MergeOp): FusionMethodConfig {
  return {
    ...methodInfo(op),
    mergeable: true,
    async run(ctx) {
      commonStart(ctx.members, op)
      const t = new Tracker(ctx, op)
      const c = await combine(
        op,
        await memberCands(
          ctx,
          ctx.members.map((m) => m.id),
          t,
          false
        ),
        t,
        ctx,
        'all'
      )
      const group: SoupNode = {
        level: 'group',
        id: 'all',
        val: c.val,
        kept: true,
        weight: 1,
        method: op,
        ...(c.detail ? { detail: c.detail } : {}),
        children: await memberNodes(
          ctx,
          ctx.members.map((m) => m.id),
          c.weights
        )
      }
      return result(
        op,
        c.spec,
        c.val,
        { level: 'global', id: op, val: c.val, kept: true, weight: 1, method: op, children: [group] },
        c.steps,
        ctx,
        t
      )
    }
  }
}

/** `hier:OUTER/INNER` with at least one merge-method level. */
function hierMethod(id: MethodId, outer: LevelMethod, inner: LevelMethod): FusionMethodConfig {
  const label = (l: LevelMethod): string => (l === 'uniform' || l === 'greedy' ? l : methodInfo(l).label)
  return {
    id,
    label: `${label(outer)} of ${label(inner)}`,
    mergeable: true,
    description: `hierarchical: each group merged by ${inner}, then the groups merged by ${outer}`,
    async run(ctx) {
      if ((MERGE_OPS as readonly string[]).includes(outer) || (MERGE_OPS as readonly string[]).includes(inner))
        commonStart(ctx.members, id)
      const t = new Tracker(ctx, id)
      const groups = groupMembers(ctx.members, ctx.groupBy ?? 'lr')
      const locals: { label: string; ids: string[]; c: Combined }[] = []
      const steps: GreedyStep[] = []
      for (const g of groups) {
        const ids = g.members.map((m) => m.id)
        const c = await combine(inner, await memberCands(ctx, ids, t, inner === 'greedy'), t, ctx, g.label)
        locals.push({ label: g.label, ids, c })
        steps.push(...c.steps)
      }
      const top = await combine(
        outer,
        locals.map((l) => ({ id: l.label, spec: l.c.spec, val: l.c.val })),
        t,
        ctx,
        'global'
      )
      steps.push(...top.steps)
      const children: SoupNode[] = []
      for (const l of locals) {
        const w = top.weights[l.label] ?? 0
        children.push({
          level: 'group',
          id: l.label,
          val: l.c.val,
          kept: w > 0,
          weight: w,
          method: inner,
          ...(l.c.detail ? { detail: l.c.detail } : {}),
          children: await memberNodes(ctx, l.ids, l.c.weights)
        })
      }
      const tree: SoupNode = {
        level: 'global',
        id,
        val: top.val,
        kept: true,
        weight: 1,
        method: outer,
        ...(top.detail ? { detail: top.detail } : {}),
        children
      }
      return result(id, top.spec, top.val, tree, steps, ctx, t)
    }
  }
}

/** Parses `hier:OUTER/INNER`; null when `id` is not of that form. Throws naming an unknown level. */
export function parseHier(id: string): { outer: LevelMethod; inner: LevelMethod } | null {
  const m = /^hier:([a-z]+)\/([a-z]+)$/.exec(id)
  if (!m) return null
  for (const l of [m[1], m[2]]) {
    if (!(LEVEL_METHODS as readonly string[]).includes(l))
      throw new Error(`unknown level '${l}' in fusion method '${id}' (levels: ${LEVEL_METHODS.join(', ')})`)
  }
  return { outer: m[1] as LevelMethod, inner: m[2] as LevelMethod }
}

/**
 * The config of a merge method or a `hier:` method; null when `id` is neither.
 * @param base the registry's own methods (the paper's four hierarchies are aliases of them)
 */
export function extraMethod(
  id: string,
  base: (id: string) => FusionMethodConfig | undefined
): FusionMethodConfig | null {
  if ((MERGE_OPS as readonly string[]).includes(id)) return flatMethod(id as MergeOp)
  const h = parseHier(id)
  if (!h) return null
  const alias = ALIASES[`${h.outer}/${h.inner}`]
  if (alias) {
    const cfg = base(alias)!
    return {
      ...cfg,
      id: id as MethodId,
      async run(ctx) {
        const r = await cfg.run(ctx)
        return {
          ...r,
          method: id as MethodId,
          tree: { ...r.tree, id, method: h.outer, children: r.tree.children?.map((c) => ({ ...c, method: h.inner })) }
        }
      }
    }
  }
  return hierMethod(id as MethodId, h.outer, h.inner)
}

/** Method ids beyond the registry's own that a fuse job accepts. */

/** Level methods of a method id, outer first, for labels ('gou' → greedy, uniform); null for flat ones. */
export function levelsOf(id: string): [string, string] | null {
  const alias = Object.entries(ALIASES).find(([, v]) => v === id)?.[0]
  if (alias) return alias.split('/') as [string, string]
  const h = /^hier:([a-z]+)\/([a-z]+)$/.exec(id)
  return h ? [h[1], h[2]] : null
}

/** Method config by id; throws naming the id when unknown. */
export function fusionMethod(id: string): FusionMethodConfig {
  const m = FUSION_METHODS.find((c) => c.id === id) ?? extraMethod(id, (a) => FUSION_METHODS.find((c) => c.id === a))
  if (!m) throw new Error(`unknown fusion method '${id}' (known: ${FUSION_METHOD_IDS.join(', ')}, hier:OUTER/INNER)`)
  return m
}
