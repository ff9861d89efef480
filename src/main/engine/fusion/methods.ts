/**
 * The fusion methods, one explicit registry: best individual, uniform soup, greedy soup,
 * hierarchical soups (local uniform / greedy per group, then GoU, GoG, UoU, UoG across groups),
 * and the prediction ensemble (baseline only). Every method works on an abstract scorer
 * (recipe → validation score), so selection is testable without training; the caller supplies
 * real scoring (average checkpoints, predict the validation split, compute the metric).
 */
import { greedySoup, rankCandidates, type Candidate, type GreedyStep, type TiesRule } from './greedy'
import { mixUniform, TrackedScorer, uniformRecipe, type Recipe, type Scorer } from './recipe'
import type { MergeScorer, MergeSpec } from './merges'
import {
  FUSION_METHOD_INFO,
  PAPER_HIERARCHIES,
  type MethodId as SharedMethodId,
  type NamedMethodId
} from '../../../shared/vocabulary'

/** A trained member as fusion sees it. */
export interface FusionMember {
  id: string
  /** Recorded hyperparameters used for grouping, e.g. `{ lr: 1e-4, seed: 1, aug: 'heavy', lineage: 'mem_b3' }`. */
  hparams: Readonly<Record<string, unknown>>
  /** Training epochs spent on this member (its own, not its parent's). */
  epochs: number
  /** Training wall time of this member, seconds. */
  seconds: number
  /** The model its lineage started from (workspace-relative label); the merge methods need one common start. */
  start?: string
}

/** Identifier of a fusion method. */
export type MethodId = SharedMethodId

/** A node of a soup's tree: global → group → member. */
export type SoupNode = {
  level: 'global' | 'group' | 'member'
  /** Method id (global), group label such as `lr=0.0001` (group) or member id (member). */
  id: string
  /** Validation score of this node's own model or soup (NaN when undefined). */
  val: number
  /** Whether the parent soup kept it. */
  kept: boolean
  /** Its weight in the parent's average, in [0, 1] (0 when not kept); a member's weight in the final soup is the product along its path. */
  weight: number
  /** The method that merged this node's children (global: the outer level, group: the inner level). */
  method?: string
  /** What the method chose, e.g. `λ=0.3` for task arithmetic. */
  detail?: string
  children?: SoupNode[]
}

/** Compute accounting of one method. */
export type FusionAccounting = {
  /** Members that had to be trained to offer the candidates. */
  members: number
  /** Training epochs of those members. */
  memberEpochs: number
  /** Training wall time of those members, seconds. */
  memberSeconds: number
  /** Distinct validation evaluations the selection needed (each: one average + one pass over val). */
  valEvaluations: number
  /** Seconds those evaluations took. */
  soupSeconds: number
  /** Forward passes per image at inference: 1 for a soup, N for an ensemble. */
  inferencesPerImage: number
}

/** What a method produced. */
export interface FusionResult {
  method: MethodId
  /** A soup is one set of weights; an ensemble averages N models' probabilities. */
  kind: 'soup' | 'ensemble'
  /** Member id → weight (soup: weight average; ensemble: probability average). */
  recipe: Recipe
  /** Validation score on the selection metric. */
  val: number
  tree: SoupNode
  /** Validation scores seen at every greedy step (local steps first, then global). */
  steps: GreedyStep[]
  accounting: FusionAccounting
  /** How to build the weights when they are not a weighted average of members (the merge methods). */
  merge?: MergeSpec
}

/** Everything a method needs. */
export interface FusionContext {
  members: readonly FusionMember[]
  /** Shared, memoised validation scorer of recipes. */
  scorer: Scorer
  /** Validation score of the probability-average ensemble of the given members (the ensemble method needs it). */
  ensembleScore?: (ids: string[]) => Promise<number>
  /** Hyperparameter to group by for hierarchical soups (default 'lr'). */
  groupBy?: string
  /** Greedy ties rule (default 'reject': keep only on a strict improvement). */
  ties?: TiesRule
  /** Shared, memoised validation scorer of merged models (the merge methods need it). */
  mergeScorer?: MergeScorer
}

/** One method of the registry. */
export interface FusionMethodConfig {
  id: MethodId
  /** Name shown in tables. */
  label: string
  /** One line for help texts. */
  description: string
  /** True when the result is one model (exportable); false for the ensemble. */
  mergeable: boolean
  run(ctx: FusionContext): Promise<FusionResult>
}

/** A group of members sharing a hyperparameter value. */
export interface MemberGroup {
  /** Label such as `lr=0.0001`; `lr=?` for members without the hyperparameter. */
  label: string
  members: FusionMember[]
}

/** Groups members by one recorded hyperparameter, groups in order of first appearance. */
export function groupMembers(members: readonly FusionMember[], key: string): MemberGroup[] {
  const groups = new Map<string, FusionMember[]>()
  for (const m of members) {
    const v = m.hparams[key]
    const label = `${key}=${v === undefined || v === null ? '?' : String(v)}`
    groups.set(label, [...(groups.get(label) ?? []), m])
  }
  return [...groups].map(([label, ms]) => ({ label, members: ms }))
}

const single = (id: string): Recipe => ({ [id]: 1 })

function accounting(ctx: FusionContext, t: TrackedScorer | null, inferences = 1): FusionAccounting {
  return {
    members: ctx.members.length,
    memberEpochs: ctx.members.reduce((s, m) => s + m.epochs, 0),
    memberSeconds: ctx.members.reduce((s, m) => s + m.seconds, 0),
    valEvaluations: t ? t.evaluations : 0,
    soupSeconds: t ? t.seconds : 0,
    inferencesPerImage: inferences
  }
}

/** Member scores through the tracker (the selection needs them). */
async function memberCandidates(ms: readonly FusionMember[], t: TrackedScorer): Promise<Candidate[]> {
  const out: Candidate[] = []
  for (const m of ms) out.push({ id: m.id, recipe: single(m.id), val: await t.score(single(m.id)) })
  return out
}

/** Member nodes of a group; member scores are read untracked (display only, shared cache). */
async function memberNodes(
  ctx: FusionContext,
  ms: readonly FusionMember[],
  kept: (id: string) => boolean,
  recipe: Recipe
): Promise<SoupNode[]> {
  const out: SoupNode[] = []
  for (const m of ms) {
    const val = (await ctx.scorer.score(single(m.id))).value
    out.push({ level: 'member', id: m.id, val, kept: kept(m.id), weight: recipe[m.id] ?? 0 })
  }
  return out
}

/** A local soup of one group. */
interface LocalSoup {
  group: MemberGroup
  recipe: Recipe
  val: number
  kept: Set<string>
  steps: GreedyStep[]
}

async function localSoups(ctx: FusionContext, t: TrackedScorer, kind: 'uniform' | 'greedy'): Promise<LocalSoup[]> {
  const out: LocalSoup[] = []
  for (const group of groupMembers(ctx.members, ctx.groupBy ?? 'lr')) {
    if (kind === 'uniform') {
      const recipe = uniformRecipe(group.members.map((m) => m.id))
      out.push({ group, recipe, val: await t.score(recipe), kept: new Set(group.members.map((m) => m.id)), steps: [] })
    } else {
      const g = await greedySoup(await memberCandidates(group.members, t), (r) => t.score(r), {
        ties: ctx.ties,
        scope: group.label
      })
      out.push({ group, recipe: g.recipe, val: g.val, kept: new Set(g.kept), steps: g.steps })
    }
  }
  return out
}

/** A flat (one-group) result: global → 'all' → members. */
async function flat(
  ctx: FusionContext,
  method: MethodId,
  recipe: Recipe,
  val: number,
  steps: GreedyStep[],
  t: TrackedScorer
): Promise<FusionResult> {
  const members = await memberNodes(ctx, ctx.members, (id) => (recipe[id] ?? 0) > 0, recipe)
  const group: SoupNode = { level: 'group', id: 'all', val, kept: true, weight: 1, children: members }
  return soupResult(ctx, t, method, recipe, val, steps, [group])
}

/** A soup's result: its recipe, score and selection steps, and its tree (the method's node over `groups`). */
function soupResult(
  ctx: FusionContext,
  t: TrackedScorer,
  method: MethodId,
  recipe: Recipe,
  val: number,
  steps: GreedyStep[],
  groups: SoupNode[]
): FusionResult {
  return {
    method,
    kind: 'soup',
    recipe,
    val,
    steps,
    tree: { level: 'global', id: method, val, kept: true, weight: 1, children: groups },
    accounting: accounting(ctx, t)
  }
}

/** A hierarchical soup: local soups of `local` kind, combined greedily or uniformly. */
function hierarchical(
  method: MethodId,
  local: 'uniform' | 'greedy',
  global: 'greedy' | 'uniform'
): (ctx: FusionContext) => Promise<FusionResult> {
  return async (ctx) => {
    const t = new TrackedScorer(ctx.scorer)
    const locals = await localSoups(ctx, t, local)
    let recipe: Recipe
    let val: number
    let keptGroups: Set<string>
    const steps = locals.flatMap((l) => l.steps)
    if (global === 'greedy') {
      const g = await greedySoup(
        locals.map((l) => ({ id: l.group.label, recipe: l.recipe, val: l.val })),
        (r) => t.score(r),
        { ties: ctx.ties, scope: 'global' }
      )
      recipe = g.recipe
      val = g.val
      keptGroups = new Set(g.kept)
      steps.push(...g.steps)
    } else {
      recipe = mixUniform(locals.map((l) => l.recipe))
      val = await t.score(recipe)
      keptGroups = new Set(locals.map((l) => l.group.label))
    }
    const groups: SoupNode[] = []
    for (const l of locals) {
      const kept = keptGroups.has(l.group.label)
      groups.push({
        level: 'group',
        id: l.group.label,
        val: l.val,
        kept,
        weight: kept ? 1 / keptGroups.size : 0,
        children: await memberNodes(ctx, l.group.members, (id) => l.kept.has(id), l.recipe)
      })
    }
    return soupResult(ctx, t, method, recipe, val, steps, groups)
  }
}

/** A named method's id, label and one-line description (the vocabulary's). */
export function methodInfo(id: NamedMethodId): { id: NamedMethodId; label: string; description: string } {
  const info = FUSION_METHOD_INFO.find((m) => m.id === id)
  if (!info) throw new Error(`fusion method ${id} has no label in src/shared/vocabulary.ts`)
  return info
}

/** Every fusion method, in table order. */
export const FUSION_METHODS: readonly FusionMethodConfig[] = [
  {
    ...methodInfo('best'),
    mergeable: true,
    async run(ctx) {
      const t = new TrackedScorer(ctx.scorer)
      const [top] = rankCandidates(await memberCandidates(ctx.members, t))
      return flat(ctx, 'best', top.recipe, top.val, [], t)
    }
  },
  {
    ...methodInfo('uniform'),
    mergeable: true,
    async run(ctx) {
      const t = new TrackedScorer(ctx.scorer)
      const recipe = uniformRecipe(ctx.members.map((m) => m.id))
      return flat(ctx, 'uniform', recipe, await t.score(recipe), [], t)
    }
  },
  {
    ...methodInfo('greedy'),
    mergeable: true,
    async run(ctx) {
      const t = new TrackedScorer(ctx.scorer)
      const g = await greedySoup(await memberCandidates(ctx.members, t), (r) => t.score(r), {
        ties: ctx.ties,
        scope: 'all'
      })
      return flat(ctx, 'greedy', g.recipe, g.val, g.steps, t)
    }
  },
  // The paper's hierarchical soups: gou, gog, uou, uog.
  ...Object.entries(PAPER_HIERARCHIES).map(([id, [outer, inner]]) => ({
    ...methodInfo(id as keyof typeof PAPER_HIERARCHIES),
    mergeable: true,
    run: hierarchical(id as MethodId, inner, outer)
  })),
  {
    ...methodInfo('ensemble'),
    mergeable: false,
    async run(ctx) {
      if (!ctx.ensembleScore) throw new Error('ensemble: no prediction scorer was given')
      const ids = ctx.members.map((m) => m.id)
      const start = performance.now()
      const val = await ctx.ensembleScore(ids)
      const recipe = uniformRecipe(ids)
      const members = await memberNodes(ctx, ctx.members, () => true, recipe)
      return {
        method: 'ensemble',
        kind: 'ensemble',
        recipe,
        val,
        steps: [],
        tree: {
          level: 'global',
          id: 'ensemble',
          val,
          kept: true,
          weight: 1,
          children: [{ level: 'group', id: 'all', val, kept: true, weight: 1, children: members }]
        },
        accounting: {
          ...accounting(ctx, null, ids.length),
          valEvaluations: 1,
          soupSeconds: (performance.now() - start) / 1000
        }
      }
    }
  }
]
