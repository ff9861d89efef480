/**
 * Weight-space averaging: pure arithmetic on parameter sets, and a streaming weighted
 * average of checkpoint files that holds one member's weight at a time (peak memory ≈ the
 * float64 running sum, i.e. two float32 models, whatever the number of members).
 *
 * `trainable` and `bn-stat` weights are averaged (BatchNorm running statistics like weights,
 * as the reference does); `int` buffers are counters, not weights: the first member's are kept.
 */
import { promises as fsp } from 'node:fs'
import { join } from 'node:path'
import {
  checkpointPath,
  readCheckpointMeta,
  type Checkpoint,
  type CheckpointMeta,
  type NamedWeight,
  type WeightEntry
} from '../models/checkpoint'

/** One member of an average: a checkpoint folder and its non-negative weight. */
export interface Ingredient {
  /** Checkpoint folder (model.json + weights.bin). */
  dir: string
  /** Relative weight ≥ 0; weights are normalised to sum to 1. */
  weight: number
}

/** Weights normalised to sum to 1; throws when one is negative / not finite or all are 0. */
export function normaliseWeights(weights: readonly number[]): number[] {
  if (weights.length === 0) throw new Error('average: no members to average')
  weights.forEach((w, i) => {
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`average: weight ${i} is ${w}, expected a finite number ≥ 0`)
  })
  const total = weights.reduce((s, w) => s + w, 0)
  if (total <= 0) throw new Error('average: the weights sum to 0')
  return weights.map((w) => w / total)
}

/**
 * Running weighted sum of parameter sets of one layout, in float64. Add members one by one
 * (each added array can be reused by the caller right after), then read the average.
 */
export class WeightAccumulator {
  private readonly sums: Float64Array[]
  private readonly firstInts: (Float32Array | null)[]
  private total = 0
  private members = 0

  /** @param layout names, shapes and kinds of the parameter set, in order */
  constructor(readonly layout: readonly Pick<NamedWeight, 'name' | 'shape' | 'kind'>[]) {
    this.sums = layout.map((e) => new Float64Array(e.kind === 'int' ? 0 : sizeOf(e.shape)))
    this.firstInts = layout.map(() => null)
  }

  /** Adds w × values to entry i (values: that entry's data for the current member). */
  addEntry(i: number, values: ArrayLike<number>, w: number): void {
    const e = this.layout[i]
    if (e.kind === 'int') {
      if (this.members === 0) this.firstInts[i] = Float32Array.from(values)
      return
    }
    const s = this.sums[i]
    if (values.length !== s.length)
      throw new Error(`average: weight ${e.name} has ${values.length} values, expected ${s.length}`)
    for (let j = 0; j < s.length; j++) s[j] += w * values[j]
  }

  /** Marks the end of a member added with total weight w (after all its entries). */
  endMember(w: number): void {
    this.total += w
    this.members++
  }

  /** Adds a whole parameter set in layout order. */
  add(values: readonly ArrayLike<number>[], w: number): void {
    values.forEach((v, i) => this.addEntry(i, v, w))
    this.endMember(w)
  }

  /** Number of members added. */
  get count(): number {
    return this.members
  }

  /** The weighted average (sum / total weight) as float32 weights. */
  result(): NamedWeight[] {
    if (this.members === 0 || this.total <= 0) throw new Error('average: nothing was added')
    return this.layout.map((e, i) => ({
      name: e.name,
      shape: e.shape.slice(),
      kind: e.kind,
      data: e.kind === 'int' ? (this.firstInts[i] as Float32Array) : quotient(this.sums[i], this.total)
    }))
  }
}

/**
 * A float32 array of n values f(0) … f(n − 1), in a plain loop: the same values as
 * `Float32Array.from({ length: n }, (_, j) => f(j))`, which V8 runs ~50× slower (4.4 s for
 * ResNet-18's 11 M weights).
 */
export function float32Of(n: number, f: (j: number) => number): Float32Array {
  const out = new Float32Array(n)
  for (let j = 0; j < n; j++) out[j] = f(j)
  return out
}

/** sum / total as float32, element by element. */
function quotient(sum: Float64Array, total: number): Float32Array {
  const out = new Float32Array(sum.length)
  for (let j = 0; j < sum.length; j++) out[j] = sum[j] / total
  return out
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/**
 * Weighted average of in-memory parameter sets (each a list of flat arrays in the same order).
 * @param weights relative weights, default uniform
 */
export function averageArrays(
  sets: readonly (readonly ArrayLike<number>[])[],
  weights?: readonly number[]
): Float32Array[] {
  const w = normaliseWeights(weights ?? sets.map(() => 1))
  if (w.length !== sets.length) throw new Error(`average: ${sets.length} parameter sets but ${w.length} weights`)
  const acc = new WeightAccumulator(
    sets[0].map((a, i) => ({ name: `#${i}`, shape: [a.length], kind: 'trainable' as const }))
  )
  sets.forEach((s, m) => acc.add(s, w[m]))
  return acc.result().map((e) => e.data)
}

/** Progress of a streaming average. */
export interface AverageProgress {
  /** Members read so far (1-based after the first). */
  done: number
  total: number
}

/** Options of {@link averageCheckpoints}. */
export interface AverageOptions {
  /** Called after each member has been added. */
  onMember?: (p: AverageProgress) => void
  /** Checked between members; when it returns true the average stops with an 'average cancelled' error. */
  cancelled?: () => boolean
}

/** Throws naming `dir` when its weights (names and shapes, in order) differ from the first member's. */
export function sameLayout(
  a: readonly Pick<WeightEntry, 'name' | 'shape'>[],
  b: readonly Pick<WeightEntry, 'name' | 'shape'>[],
  dir: string
): void {
  if (a.length !== b.length) throw new Error(`average: ${dir} has ${b.length} weights, the first member ${a.length}`)
  a.forEach((e, i) => {
    const f = b[i]
    if (f.name !== e.name || f.shape.length !== e.shape.length || f.shape.some((d, j) => d !== e.shape[j])) {
      throw new Error(
        `average: ${dir} weight ${i} is ${f.name} [${f.shape}], the first member has ${e.name} [${e.shape}]`
      )
    }
  })
}

/**
 * Weighted average of checkpoints, streamed: each member's weights.bin is read entry by entry
 * into one reusable buffer, so memory holds the float64 sum plus the largest single weight.
 * The result carries the first member's metadata without optimizer or trainer state.
 */
export async function averageCheckpoints(
  ingredients: readonly Ingredient[],
  options: AverageOptions = {}
): Promise<Checkpoint> {
  const w = normaliseWeights(ingredients.map((g) => g.weight))
  const first = await readCheckpointMeta(ingredients[0].dir)
  const acc = new WeightAccumulator(first.weights)
  const largest = Math.max(0, ...first.weights.map((e) => e.byteLength))
  const buffer = new Float32Array(largest / 4)
  const bytes = new Uint8Array(buffer.buffer)
  for (let m = 0; m < ingredients.length; m++) {
    if (options.cancelled?.()) throw new Error('average cancelled')
    const { dir } = ingredients[m]
    const meta: CheckpointMeta = m === 0 ? first : await readCheckpointMeta(dir)
    sameLayout(first.weights, meta.weights, dir)
    const fh = await fsp.open(join(checkpointPath(dir) as string, 'weights.bin'), 'r')
    try {
      for (let i = 0; i < meta.weights.length; i++) {
        const e = meta.weights[i]
        const { bytesRead } = await fh.read(bytes, 0, e.byteLength, e.offset)
        if (bytesRead !== e.byteLength) throw new Error(`average: ${dir}/weights.bin ends inside weight ${e.name}`)
        acc.addEntry(i, buffer.subarray(0, e.byteLength / 4), w[m])
      }
    } finally {
      await fh.close()
    }
    acc.endMember(w[m])
    options.onMember?.({ done: m + 1, total: ingredients.length })
  }
  const { weights: _w, optimizer: _o, trainer: _t, ...meta } = first
  return { meta, weights: acc.result() }
}
