/**
 * Merges beyond weight averaging, streamed over checkpoint files: Model Stock (Jang et al.,
 * ECCV 2024), TIES-merging (Yadav et al., NeurIPS 2023), DARE (Yu et al., ICML 2024) and task
 * arithmetic (Ilharco et al., ICLR 2023). Formulas, defaults and edge cases: docs/MERGING.md.
 *
 * A merge is described by a {@link MergeSpec} tree whose leaves are members; an inner node is a
 * weighted mean or one of the four methods over its inputs, so hierarchies nest freely. Every
 * method works on task vectors τ = θ − θ₀ against the members' common starting point θ₀.
 * Inputs are materialised one at a time (one model in memory besides θ₀ and float64 sums);
 * TIES reads its inputs twice (trim thresholds and sign election first, disjoint mean second).
 *
 * What is merged: `trainable` weights by the method's formula; `bn-stat` (BatchNorm running
 * statistics) by the plain mean of the inputs (a running variance must stay positive, so no
 * task-vector arithmetic on it; re-estimate them with the fuse job's `bnBatches`); `int`
 * buffers are the first input's, as in {@link WeightAccumulator}.
 */
import { float32Of, WeightAccumulator, normaliseWeights } from './average'
import { readCheckpoint, type Checkpoint, type NamedWeight } from '../models/checkpoint'
import type { Scored } from './recipe'
import { Rng } from '../data/rng'
import { MERGE_OP_IDS, type MergeOpId } from '../../../shared/vocabulary'

/** How a merged model is made from members. */
export type MergeSpec =
  | { op: 'member'; id: string }
  /** Weighted mean (weights normalised; default uniform). */
  | { op: 'mean'; inputs: MergeSpec[]; weights?: number[] }
  | { op: 'modelstock'; inputs: MergeSpec[] }
  /** TIES: keep the top `density` fraction of each task vector's magnitudes, elect signs, disjoint mean, scale λ. */
  | { op: 'ties'; inputs: MergeSpec[]; density: number; lambda: number }
  /** DARE: drop task-vector entries with probability p, rescale by 1/(1−p), mean. */
  | { op: 'dare'; inputs: MergeSpec[]; p: number; seed: number }
  /** Task arithmetic: θ₀ + λ·Σ τᵢ. */
  | { op: 'taskarith'; inputs: MergeSpec[]; lambda: number }

/** Operations that need the starting point θ₀. */
export type MergeOp = MergeOpId
export const MERGE_OPS: readonly MergeOp[] = MERGE_OP_IDS

/** Defaults (docs/MERGING.md). */
export const MERGE_DEFAULTS = {
  tiesDensity: 0.2,
  tiesLambda: 1,
  dareP: 0.9,
  dareSeed: 0,
  /** Task-arithmetic λ grid, chosen on validation (Ilharco et al. search λ ∈ [0, 1] on held-out data). */
  taskArithLambdas: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]
} as const

/** Where members and the starting point live. */
export interface MergeEnv {
  /** Checkpoint folder of a member. */
  dirOf(id: string): string
  /** Checkpoint folder of the common starting point θ₀ (null when unknown: methods needing it refuse). */
  start: string | null
  /** Why `start` is null, for the error message. */
  startMissing?: string
  /** Checked between inputs; throws 'merge cancelled' when true. */
  cancelled?: () => boolean
}

/** Canonical text of a spec (numbers to 12 significant digits), for caching. */
export function mergeKey(s: MergeSpec): string {
  const n = (v: number): string => v.toPrecision(12)
  switch (s.op) {
    case 'member':
      return s.id
    case 'mean':
      return `mean(${s.inputs.map((x, i) => `${mergeKey(x)}${s.weights ? `*${n(s.weights[i])}` : ''}`).join(',')})`
    case 'modelstock':
      return `modelstock(${s.inputs.map(mergeKey).join(',')})`
    case 'ties':
      return `ties[${n(s.density)},${n(s.lambda)}](${s.inputs.map(mergeKey).join(',')})`
    case 'dare':
      return `dare[${n(s.p)},${s.seed}](${s.inputs.map(mergeKey).join(',')})`
    case 'taskarith':
      return `taskarith[${n(s.lambda)}](${s.inputs.map(mergeKey).join(',')})`
  }
}

/** The flat member recipe of a spec made only of means (null when a method is inside). */
export function linearRecipe(s: MergeSpec): Record<string, number> | null {
  if (s.op === 'member') return { [s.id]: 1 }
  if (s.op !== 'mean') return null
  const w = normaliseWeights(s.weights ?? s.inputs.map(() => 1))
  const out: Record<string, number> = {}
  for (const [i, x] of s.inputs.entries()) {
    const r = linearRecipe(x)
    if (!r) return null
    for (const [id, v] of Object.entries(r)) out[id] = (out[id] ?? 0) + w[i] * v
  }
  return out
}

/** Nominal member weights of a spec, for reports: exact for means, each input counted equally inside a method. */
export function nominalRecipe(s: MergeSpec): Record<string, number> {
  if (s.op === 'member') return { [s.id]: 1 }
  const w =
    s.op === 'mean' ? normaliseWeights(s.weights ?? s.inputs.map(() => 1)) : s.inputs.map(() => 1 / s.inputs.length)
  const out: Record<string, number> = {}
  s.inputs.forEach((x, i) => {
    for (const [id, v] of Object.entries(nominalRecipe(x))) out[id] = (out[id] ?? 0) + w[i] * v
  })
  return out
}

/** Member ids a spec reads. */
export function specMembers(s: MergeSpec): string[] {
  return s.op === 'member' ? [s.id] : [...new Set(s.inputs.flatMap(specMembers))]
}

function firstMethod(s: MergeSpec): string | null {
  if (s.op === 'member') return null
  if (s.op !== 'mean') return s.op
  for (const x of s.inputs) {
    const f = firstMethod(x)
    if (f) return f
  }
  return null
}

const isMethod = (s: MergeSpec): boolean => s.op !== 'member' && s.op !== 'mean'
const needsStart = (s: MergeSpec): boolean => isMethod(s) || (s.op === 'mean' && s.inputs.some(needsStart))

function stripped(c: Checkpoint): Checkpoint {
  const { optimizer: _o, trainer: _t, ...meta } = c.meta
  return { meta, weights: c.weights }
}

function sameLayout(a: readonly NamedWeight[], b: readonly NamedWeight[], what: string): void {
  if (a.length !== b.length)
    throw new Error(`merge: ${what} has ${b.length} weights, the starting point / first input ${a.length}`)
  a.forEach((e, i) => {
    const f = b[i]
    if (f.name !== e.name || f.shape.length !== e.shape.length || f.shape.some((d, j) => d !== e.shape[j])) {
      throw new Error(`merge: ${what} weight ${i} is ${f.name} [${f.shape}], expected ${e.name} [${e.shape}]`)
    }
  })
}

/** One stream of inputs: materialises each input in turn and hands its weights to `use`. */
async function eachInput(
  inputs: readonly MergeSpec[],
  env: MergeEnv,
  ctx: Ctx,
  use: (w: NamedWeight[], i: number, meta: Checkpoint['meta']) => void
): Promise<void> {
  for (const [i, x] of inputs.entries()) {
    if (env.cancelled?.()) throw new Error('merge cancelled')
    const c = await build(x, env, ctx)
    use(c.weights, i, c.meta)
  }
}

interface Ctx {
  start: NamedWeight[] | null
}

async function startWeights(env: MergeEnv, ctx: Ctx, op: string): Promise<NamedWeight[]> {
  if (ctx.start) return ctx.start
  if (!env.start)
    throw new Error(
      `${op}: ${env.startMissing ?? "the members' starting point is not known"}; ${op} merges task vectors against it`
    )
  ctx.start = (await readCheckpoint(env.start, { optimizer: false })).weights
  return ctx.start
}

/** Total number of trainable entries of a layout. */
function trainableSize(layout: readonly NamedWeight[]): number {
  return layout.reduce((s, e) => s + (e.kind === 'trainable' ? e.data.length : 0), 0)
}

/**
 * DARE's keep mask of one input: 1 = kept, 0 = dropped, one byte per trainable entry in layout
 * order (all trainable weights concatenated). Entry j is dropped when the j-th draw of
 * mulberry32 seeded with `seed · 1,000,003 + input` is below p.
 */
export function dareMask(seed: number, input: number, n: number, p: number): Uint8Array {
  const rng = new Rng((Math.imul(seed, 1_000_003) + input) >>> 0)
  const m = new Uint8Array(n)
  for (let j = 0; j < n; j++) m[j] = rng.next() < p ? 0 : 1
  return m
}

/** Materialises a spec (see the file header for memory). */
async function build(s: MergeSpec, env: MergeEnv, ctx: Ctx): Promise<Checkpoint> {
  if (s.op === 'member') return stripped(await readCheckpoint(env.dirOf(s.id), { optimizer: false }))
  if (s.inputs.length === 0) throw new Error(`${s.op}: no inputs to merge`)
  const op = s.op
  if (op === 'mean') {
    const w = normaliseWeights(s.weights ?? s.inputs.map(() => 1))
    let acc: WeightAccumulator | null = null
    let meta: Checkpoint['meta'] | null = null
    await eachInput(s.inputs, env, ctx, (ws, i, m) => {
      if (!acc) {
        acc = new WeightAccumulator(ws)
        meta = m
      } else sameLayout(acc.layout as NamedWeight[], ws, `input ${i + 1} of the mean`)
      acc.add(
        ws.map((e) => e.data),
        w[i]
      )
    })
    return { meta: meta!, weights: acc!.result() }
  }
  const start = await startWeights(env, ctx, op)
  const k = s.inputs.length
  // plain mean of every input: bn-stat (and the average Model Stock needs); int of the first input
  const mean = new WeightAccumulator(start)
  let meta: Checkpoint['meta'] | null = null
  const n = trainableSize(start)

  if (op === 'modelstock') {
    // Σ unit task vectors per trainable weight: Σ_{i≠j} cos(τᵢ, τⱼ) = |Σ τᵢ/|τᵢ||² − k (one pass)
    const unit = start.map((e) => new Float64Array(e.kind === 'trainable' ? e.data.length : 0))
    const zero = start.map(() => false)
    await eachInput(s.inputs, env, ctx, (ws, i, m) => {
      sameLayout(start, ws, `input ${i + 1} of modelstock`)
      meta ??= m
      mean.add(
        ws.map((e) => e.data),
        1
      )
      ws.forEach((e, t) => {
        if (e.kind !== 'trainable') return
        const w0 = start[t].data
        let sq = 0
        for (let j = 0; j < w0.length; j++) {
          const d = e.data[j] - w0[j]
          sq += d * d
        }
        const norm = Math.sqrt(sq)
        if (norm === 0) {
          zero[t] = true
          return
        }
        const u = unit[t]
        for (let j = 0; j < w0.length; j++) u[j] += (e.data[j] - w0[j]) / norm
      })
    })
    const avg = mean.result()
    return {
      meta: meta!,
      weights: avg.map((e, t) => {
        if (e.kind !== 'trainable') return e
        const ratio = modelStockRatio(k, zero[t] ? null : unit[t])
        const w0 = start[t].data
        return { ...e, data: float32Of(e.data.length, (j) => ratio * e.data[j] + (1 - ratio) * w0[j]) }
      })
    }
  }

  if (op === 'ties') {
    if (!(s.density > 0 && s.density <= 1)) throw new Error(`ties: density ${s.density} is not in (0, 1]`)
    // pass 1: each input's magnitude threshold and the elected sign Σ τ̂ᵢ
    const thresholds: number[] = []
    const signSum = new Float64Array(n)
    const mag = new Float64Array(n)
    await eachInput(s.inputs, env, ctx, (ws, i, m) => {
      sameLayout(start, ws, `input ${i + 1} of ties`)
      meta ??= m
      mean.add(
        ws.map((e) => e.data),
        1
      )
      let at = 0
      ws.forEach((e, t) => {
        if (e.kind !== 'trainable') return
        const w0 = start[t].data
        for (let j = 0; j < w0.length; j++) mag[at + j] = Math.abs(e.data[j] - w0[j])
        at += w0.length
      })
      const th = tiesThreshold(mag, s.density)
      thresholds.push(th)
      forTrainable(start, ws, (g, d) => {
        if (Math.abs(d) >= th) signSum[g] += d
      })
    })
    // pass 2: disjoint mean of the kept entries that agree with the elected sign
    const sum = new Float64Array(n)
    const count = new Uint32Array(n)
    await eachInput(s.inputs, env, ctx, (ws, i) => {
      sameLayout(start, ws, `input ${i + 1} of ties`)
      const th = thresholds[i]
      forTrainable(start, ws, (g, d) => {
        if (Math.abs(d) >= th && d !== 0 && Math.sign(d) === Math.sign(signSum[g])) {
          sum[g] += d
          count[g]++
        }
      })
    })
    return {
      meta: meta!,
      weights: fromDelta(start, mean.result(), (g) => (count[g] > 0 ? s.lambda * (sum[g] / count[g]) : 0))
    }
  }

  if (op === 'dare') {
    if (!(s.p >= 0 && s.p < 1)) throw new Error(`dare: drop rate ${s.p} is not in [0, 1)`)
    const sum = new Float64Array(n)
    await eachInput(s.inputs, env, ctx, (ws, i, m) => {
      sameLayout(start, ws, `input ${i + 1} of dare`)
      meta ??= m
      mean.add(
        ws.map((e) => e.data),
        1
      )
      const mask = dareMask(s.seed, i, n, s.p)
      forTrainable(start, ws, (g, d) => {
        if (mask[g]) sum[g] += d / (1 - s.p)
      })
    })
    return { meta: meta!, weights: fromDelta(start, mean.result(), (g) => sum[g] / k) }
  }

  // task arithmetic
  const sum = new Float64Array(n)
  await eachInput(s.inputs, env, ctx, (ws, i, m) => {
    sameLayout(start, ws, `input ${i + 1} of taskarith`)
    meta ??= m
    mean.add(
      ws.map((e) => e.data),
      1
    )
    forTrainable(start, ws, (g, d) => {
      sum[g] += d
    })
  })
  return { meta: meta!, weights: fromDelta(start, mean.result(), (g) => s.lambda * sum[g]) }
}

/** Calls f(global trainable index, τ entry) over the trainable entries of `ws` against θ₀. */
function forTrainable(
  start: readonly NamedWeight[],
  ws: readonly NamedWeight[],
  f: (g: number, d: number) => void
): void {
  let at = 0
  ws.forEach((e, t) => {
    if (e.kind !== 'trainable') return
    const w0 = start[t].data
    for (let j = 0; j < w0.length; j++) f(at + j, e.data[j] - w0[j])
    at += w0.length
  })
}

/** θ₀ + delta(g) on trainable entries; other entries from `rest` (plain mean / first input). */
function fromDelta(start: readonly NamedWeight[], rest: NamedWeight[], delta: (g: number) => number): NamedWeight[] {
  let at = 0
  return rest.map((e, t) => {
    if (e.kind !== 'trainable') return e
    const w0 = start[t].data
    const base = at
    at += w0.length
    return { ...e, data: float32Of(w0.length, (j) => w0[j] + delta(base + j)) }
  })
}

/**
 * TIES trim threshold: the m-th largest magnitude, m = max(1, round(density · n)); entries with
 * |τ| ≥ threshold are kept (ties at the threshold are all kept). `mag` is overwritten (sorted).
 */
export function tiesThreshold(mag: Float64Array, density: number): number {
  if (mag.length === 0) return Infinity
  const m = Math.max(1, Math.round(density * mag.length))
  mag.sort()
  return mag[mag.length - m]
}

/**
 * Model Stock's interpolation ratio of one weight tensor: t = k·c / (1 + (k−1)·c), c the mean
 * pairwise cosine of the k task vectors, from their unit-vector sum S (c = (|S|² − k) / (k(k−1))),
 * clamped to [0, 1]. One input, or a zero task vector in the tensor: t = 1 (the plain average).
 */
export function modelStockRatio(k: number, unitSum: Float64Array | null): number {
  if (k < 2 || !unitSum) return 1
  let sq = 0
  for (let j = 0; j < unitSum.length; j++) sq += unitSum[j] * unitSum[j]
  const c = Math.min(1, Math.max(0, (sq - k) / (k * (k - 1))))
  return (k * c) / (1 + (k - 1) * c)
}

/**
 * Materialises a spec into one checkpoint (the first input's metadata, without optimizer or
 * trainer state). Throws naming the method when θ₀ is needed but unknown.
 */
export async function mergeCheckpoints(spec: MergeSpec, env: MergeEnv): Promise<Checkpoint> {
  if (needsStart(spec) && !env.start) {
    const op = firstMethod(spec) ?? 'merge'
    throw new Error(
      `${op}: ${env.startMissing ?? "the members' starting point is not known"}; ${op} merges task vectors against it`
    )
  }
  return build(spec, env, { start: null })
}

/** Checks that members share one starting point; answers it, or throws naming them. */
export function commonStart(members: readonly { id: string; start?: string }[], method: string): string {
  const by = new Map<string, string[]>()
  for (const m of members) by.set(m.start ?? '', [...(by.get(m.start ?? '') ?? []), m.id])
  const missing = by.get('')
  if (missing)
    throw new Error(
      `${method}: the starting point of ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} is not recorded; ${method} needs the model the members were fine-tuned from`
    )
  if (by.size > 1) {
    const parts = [...by].map(([s, ids]) => `${s} (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`)
    throw new Error(
      `${method}: the members start from different models: ${parts.join(' and ')}; ${method} merges task vectors against one common starting point`
    )
  }
  return [...by.keys()][0]
}

/** A memoised validation scorer of merge specs. */
export interface MergeScorer {
  score(s: MergeSpec): Promise<Scored>
  readonly evaluations: number
}

/** Wraps an evaluation function (spec → validation score) with a cache keyed by {@link mergeKey}. */
export function makeMergeScorer(evaluate: (s: MergeSpec) => Promise<number>): MergeScorer {
  const cache = new Map<string, Promise<Scored>>()
  return {
    score(s) {
      const key = mergeKey(s)
      let hit = cache.get(key)
      if (!hit) {
        const start = performance.now()
        hit = evaluate(s).then((value) => ({ value, seconds: (performance.now() - start) / 1000 }))
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
