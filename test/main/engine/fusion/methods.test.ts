import { describe, expect, it } from 'vitest'
import { greedySoup } from '../../../../src/main/engine/fusion/greedy'
import { fusionMethod } from '../../../../src/main/engine/fusion/hier'
import {
  FUSION_METHODS,
  groupMembers,
  type FusionContext,
  type FusionMember,
  type SoupNode
} from '../../../../src/main/engine/fusion/methods'
import { makeScorer, mixUniform, recipeKey, type Recipe } from '../../../../src/main/engine/fusion/recipe'
import { Rng } from '../../../../src/main/engine/data/rng'

/** Members as points θ_i in R^d; a soup is the weighted mean of its members' points. */
function world(
  points: Record<string, number[]>,
  f: (theta: number[]) => number
): { evaluate: (r: Recipe) => Promise<number>; calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    evaluate: async (r) => {
      calls.push(recipeKey(r))
      const d = Object.values(points)[0].length
      const theta = new Array<number>(d).fill(0)
      for (const [id, w] of Object.entries(r))
        points[id].forEach((v, j) => {
          theta[j] += w * v
        })
      return f(theta)
    }
  }
}

const member = (id: string, hparams: Record<string, unknown> = {}, epochs = 10, seconds = 2): FusionMember => ({
  id,
  hparams,
  epochs,
  seconds
})

function context(
  points: Record<string, number[]>,
  f: (t: number[]) => number,
  hp: Record<string, Record<string, unknown>> = {},
  extra: Partial<FusionContext> = {}
): FusionContext & { calls: string[] } {
  const w = world(points, f)
  return {
    members: Object.keys(points).map((id) => member(id, hp[id] ?? {})),
    scorer: makeScorer(w.evaluate),
    calls: w.calls,
    ...extra
  }
}

const leaves = (n: SoupNode): SoupNode[] => (n.children ? n.children.flatMap(leaves) : [n])

describe('greedy soup', () => {
  it('matches a hand-worked 1-D example (target 2, score −(θ−2)²)', async () => {
    // members θ: a=3, b=1, c=0, d=10 → own scores −1, −1, −4, −64; a first (tie with b, given order)
    const ctx = context({ a: [3], b: [1], c: [0], d: [10] }, ([t]) => -((t - 2) ** 2))
    const r = await fusionMethod('greedy').run(ctx)
    expect(r.recipe).toEqual({ a: 0.5, b: 0.5 })
    expect(r.val).toBe(-0)
    expect(r.steps.map((s) => [s.candidate, s.kept])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
      ['d', false]
    ])
    // trials: {a,b} → 2 → 0; {a,b,c} → 4/3 → −4/9; {a,b,d} → 14/3 → −64/9
    const scores = r.steps.map((s) => s.score)
    expect(scores[0]).toBe(-1)
    expect(scores[1]).toBeCloseTo(0, 12)
    expect(scores[2]).toBeCloseTo(-4 / 9, 12)
    expect(scores[3]).toBeCloseTo(-64 / 9, 12)
    // 4 member scores + 3 trials
    expect(r.accounting.valEvaluations).toBe(7)
    expect(r.accounting.memberEpochs).toBe(40)
    expect(r.accounting.inferencesPerImage).toBe(1)
  })

  it('is never worse on validation than the best member (200 random problems, arbitrary scores)', async () => {
    const rng = new Rng(99)
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + rng.int(10)
      const points = Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, [rng.normal(), rng.normal()]]))
      // an arbitrary, rough validation surface with plateaus (ties) and an undefined region
      const f = ([x, y]: number[]): number =>
        x > 2.5 ? NaN : Math.round(4 * Math.sin(3 * x) * Math.cos(2 * y) + x) / 4
      const ctx = context(points, f, {}, { ties: trial % 2 ? 'accept' : 'reject' })
      const best = await fusionMethod('best').run(ctx)
      const greedy = await fusionMethod('greedy').run(ctx)
      const bestVal = Number.isNaN(best.val) ? -Infinity : best.val
      expect(Number.isNaN(greedy.val) ? -Infinity : greedy.val).toBeGreaterThanOrEqual(bestVal)
      // and the reported score is the score of the reported recipe
      if (!Number.isNaN(greedy.val)) expect((await ctx.scorer.score(greedy.recipe)).value).toBe(greedy.val)
    }
  })

  it('applies the ties rule: reject keeps only strict improvements, accept keeps equal scores', async () => {
    // scores are floor(θ): a=1.9 (1), b=1.2 (1); the trial {a,b} = 1.55 scores 1 = best so far
    const points = { a: [1.9], b: [1.2] }
    const reject = await fusionMethod('greedy').run(context(points, ([t]) => Math.floor(t)))
    const accept = await fusionMethod('greedy').run(context(points, ([t]) => Math.floor(t), {}, { ties: 'accept' }))
    expect(reject.recipe).toEqual({ a: 1 })
    expect(accept.recipe).toEqual({ a: 0.5, b: 0.5 })
  })

  it('refuses an empty candidate list', async () => {
    await expect(greedySoup([], async () => 0)).rejects.toThrow(/no candidates/)
  })
})

describe('flat methods', () => {
  it('best picks the top member; uniform weighs all equally with one evaluation', async () => {
    const ctx = context({ a: [0], b: [4], c: [8] }, ([t]) => -Math.abs(t - 5))
    const best = await fusionMethod('best').run(ctx)
    expect(best.recipe).toEqual({ b: 1 })
    expect(best.val).toBe(-1)
    const uniform = await fusionMethod('uniform').run(ctx)
    expect(Object.values(uniform.recipe)).toEqual([1 / 3, 1 / 3, 1 / 3])
    expect(uniform.val).toBe(-1)
    expect(uniform.accounting.valEvaluations).toBe(1)
    expect(leaves(uniform.tree).map((m) => [m.id, m.val, m.kept])).toEqual([
      ['a', -5, true],
      ['b', -1, true],
      ['c', -3, true]
    ])
  })

  it('a uniform soup of identical members scores as the member', async () => {
    const ctx = context({ a: [1.5, -2], b: [1.5, -2], c: [1.5, -2] }, ([x, y]) => x * 10 + y)
    const u = await fusionMethod('uniform').run(ctx)
    expect(u.val).toBeCloseTo(13, 12)
  })
})

describe('hierarchical soups', () => {
  // Two basins by learning rate: lr 1e-3 members near 10, lr 1e-4 near 0; the score prefers 0.
  const points = { a1: [9], a2: [11], a3: [16], b1: [-1], b2: [2], b3: [0.5] }
  const hp = {
    a1: { lr: 1e-3, seed: 0 },
    a2: { lr: 1e-3, seed: 1 },
    a3: { lr: 1e-3, seed: 0 },
    b1: { lr: 1e-4, seed: 1 },
    b2: { lr: 1e-4, seed: 0 },
    b3: { lr: 1e-4, seed: 1 }
  }
  const f = ([t]: number[]): number => -Math.abs(t)

  it('groups by any recorded hyperparameter, members without it in a "?" group', () => {
    const ms = [member('x', { lr: 1e-3 }), member('y', { lr: 1e-4 }), member('z', {}), member('w', { lr: 1e-3 })]
    expect(groupMembers(ms, 'lr').map((g) => [g.label, g.members.map((m) => m.id)])).toEqual([
      ['lr=0.001', ['x', 'w']],
      ['lr=0.0001', ['y']],
      ['lr=?', ['z']]
    ])
  })

  it('UoU flattens to 1/groups × 1/group size per member', async () => {
    const ctx = context({ a: [1], b: [2], c: [3], d: [4], e: [5] }, ([t]) => t, {
      a: { lr: 1 },
      b: { lr: 1 },
      c: { lr: 2 },
      d: { lr: 2 },
      e: { lr: 2 }
    })
    const r = await fusionMethod('uou').run(ctx)
    expect(r.recipe.a).toBeCloseTo(1 / 4, 15)
    expect(r.recipe.c).toBeCloseTo(1 / 6, 15)
    // (1+2)/4 + (3+4+5)/6 = 0.75 + 2 = 2.75
    expect(r.val).toBeCloseTo(2.75, 12)
    expect(r.accounting.valEvaluations).toBe(3)
  })

  it("GoU: greedy over the groups' uniform soups (hand-worked)", async () => {
    // uniform soups: lr 1e-3 → 12 (−12), lr 1e-4 → 0.5 (−0.5); greedy starts from 1e-4,
    // mixing both → 6.25 (−6.25) is rejected
    const r = await fusionMethod('gou').run(context(points, f, hp))
    expect(r.recipe).toEqual({ b1: 1 / 3, b2: 1 / 3, b3: 1 / 3 })
    expect(r.val).toBeCloseTo(-0.5, 12)
    const groups = r.tree.children!
    expect(groups.map((g) => [g.id, g.kept, g.weight])).toEqual([
      ['lr=0.001', false, 0],
      ['lr=0.0001', true, 1]
    ])
    expect(groups[0].val).toBeCloseTo(-12, 12)
    expect(r.steps.map((s) => [s.scope, s.candidate, s.kept])).toEqual([
      ['global', 'lr=0.0001', true],
      ['global', 'lr=0.001', false]
    ])
    // 2 group soups + 1 global trial; member scores are not needed
    expect(r.accounting.valEvaluations).toBe(3)
  })

  it('GoG: local greedy soups per group, then greedy across groups (hand-worked)', async () => {
    // lr 1e-3: a1 (−9) first; {a1,a2} = 10 (−10) no; {a1,a3} = 12.5 no → a1, −9
    // lr 1e-4: b3 (−0.5) first; {b3,b1} = −0.25 (−0.25) yes; {b3,b1,b2} = 0.5 (−0.5) no → {b3,b1}, −0.25
    // global: starts at lr 1e-4 (−0.25); + lr 1e-3: (−0.25 + 9)/2 = 4.375 → no
    const r = await fusionMethod('gog').run(context(points, f, hp))
    expect(r.recipe).toEqual({ b3: 0.5, b1: 0.5 })
    expect(r.val).toBeCloseTo(-0.25, 12)
    const members = leaves(r.tree)
    expect(
      members
        .filter((m) => m.kept)
        .map((m) => m.id)
        .sort()
    ).toEqual(['a1', 'b1', 'b3'])
    // member weights are within their group's soup; the group's weight within the global soup
    expect(
      members
        .filter((m) => m.weight > 0)
        .map((m) => m.id)
        .sort()
    ).toEqual(['a1', 'b1', 'b3'])
    expect(r.tree.children!.map((g) => g.weight)).toEqual([0, 1])
    expect(r.steps.filter((s) => s.scope === 'lr=0.0001').map((s) => s.kept)).toEqual([true, true, false])
    expect(r.steps.at(-1)).toMatchObject({ scope: 'global', candidate: 'lr=0.001', kept: false })
    // UoG mixes the two local greedy soups: (9 − 0.25)/2 = 4.375
    const uog = await fusionMethod('uog').run(context(points, f, hp))
    expect(uog.recipe).toEqual(mixUniform([{ a1: 1 }, { b3: 0.5, b1: 0.5 }]))
    expect(uog.val).toBeCloseTo(-4.375, 12)
  })

  it('groups by seed when asked', async () => {
    const r = await fusionMethod('uou').run(context(points, f, hp, { groupBy: 'seed' }))
    expect(r.tree.children!.map((g) => g.id)).toEqual(['seed=0', 'seed=1'])
  })

  it('every soup tree is global → group → member; weights multiplied along the path give the recipe', async () => {
    const ctx = context(points, f, hp, { ensembleScore: async (ids) => ids.length })
    for (const m of FUSION_METHODS) {
      const r = await m.run(ctx)
      expect(r.tree.level).toBe('global')
      expect(r.tree.children!.every((g) => g.level === 'group')).toBe(true)
      const ms = leaves(r.tree)
      expect(ms.map((x) => x.level).every((l) => l === 'member')).toBe(true)
      expect(ms.map((x) => x.id).sort()).toEqual(Object.keys(points).sort())
      for (const g of r.tree.children!)
        for (const x of g.children!) expect(g.weight * x.weight).toBeCloseTo(r.recipe[x.id] ?? 0, 15)
      expect(Object.values(r.recipe).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12)
    }
  })

  it('the ensemble is a baseline needing N inferences per image and a prediction scorer', async () => {
    const r = await fusionMethod('ensemble').run(
      context(points, f, hp, { ensembleScore: async (ids) => ids.length / 10 })
    )
    expect(r.kind).toBe('ensemble')
    expect(r.val).toBe(0.6)
    expect(r.accounting.inferencesPerImage).toBe(6)
    await expect(fusionMethod('ensemble').run(context(points, f, hp))).rejects.toThrow(/prediction scorer/)
    expect(fusionMethod('ensemble').mergeable).toBe(false)
    expect(() => fusionMethod('soupy')).toThrow(/unknown fusion method 'soupy'/)
  })

  it('evaluates each distinct recipe once across methods (shared cache)', async () => {
    const ctx = context(points, f, hp)
    await fusionMethod('gog').run(ctx)
    const before = ctx.calls.length
    const again = await fusionMethod('gog').run(ctx)
    expect(ctx.calls.length).toBe(before)
    expect(new Set(ctx.calls).size).toBe(ctx.calls.length)
    // accounting is per method, whichever method paid first
    expect(again.accounting.valEvaluations).toBeGreaterThan(0)
  })
})
