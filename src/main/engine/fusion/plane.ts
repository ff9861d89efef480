/**
 * The loss surface on the plane through three models (Garipov et al., 2018; the paper's figure 1).
 * Basis: u = (B − A)/|B − A|, v = the part of C − A orthogonal to u, normalised. A point (x, y)
 * of the plane is θ = A + x·u + y·v; A = (0, 0), B = (|B − A|, 0), C = (⟨C − A, u⟩, ⟨C − A, v⟩).
 * The grid covers the three points plus `margin` × their extent on each side. Soups are
 * projected: (⟨S − A, u⟩, ⟨S − A, v⟩) and their distance |S − A − x·u − y·v| to the plane.
 *
 * The vectors are every float weight (trainable and BatchNorm statistics; `int` buffers are A's),
 * so a model's own coordinates give back its own weights up to float rounding. Three float64
 * vectors of the model's size are held (A, u, v) plus one model being read.
 */
import { readCheckpoint, type Checkpoint, type NamedWeight } from '../models/checkpoint'
import type { SplitName } from '../data/types'
import { checkSameLayout, WeightEvaluator, type PointScore } from './lmc'
import { float32Of } from './average'

/** One scored point of the plane. */
export type PlanePoint = PointScore & {
  x: number
  y: number
}

/** A model placed on the plane, scored at its coordinates. */
export interface PlaneModel extends PlanePoint {
  id: string
}

/** A soup projected onto the plane. */
export interface PlaneSoup {
  id: string
  /** Its method (as recorded). */
  method: string | null
  x: number
  y: number
  /** Distance from the soup to the plane, in the same units as x and y. */
  distance: number
}

/** Result of {@link lossPlane}. */
export interface PlaneResult {
  models: PlaneModel[]
  /** Grid points row by row (y outer, x inner). */
  grid: PlanePoint[]
  xs: number[]
  ys: number[]
  soups: PlaneSoup[]
}

/** Options of {@link lossPlane}. */
export interface PlaneOptions {
  /** The three models, in order A, B, C. */
  models: { id: string; dir: string }[]
  datasetDir: string
  /** Points per axis (default 21). */
  grid?: number
  /** Extra extent on each side, as a fraction of the three points' extent (default 0.2). */
  margin?: number
  split?: SplitName
  bnBatches?: number
  batchSize?: number
  /** Soups to project onto the plane. */
  soups?: { id: string; dir: string; method?: string | null }[]
  signal?: AbortSignal
  /** Grid points scored by an earlier attempt, by index (kept). */
  done?: Record<string, PlanePoint>
  /** Called after each grid point (index into the grid, points done, total). */
  onPoint?: (index: number, p: PlanePoint, done: number, total: number) => void
}

function flatten(ws: readonly NamedWeight[]): Float64Array {
  const n = ws.reduce((s, w) => s + (w.kind === 'int' ? 0 : w.data.length), 0)
  const out = new Float64Array(n)
  let at = 0
  for (const w of ws)
    if (w.kind !== 'int') {
      out.set(w.data, at)
      at += w.data.length
    }
  return out
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

/** The plane's basis and the three models' coordinates. */
export interface PlaneBasis {
  origin: Float64Array
  u: Float64Array
  v: Float64Array
  coords: [number, number][]
}

/** Basis of the plane through three flattened weight vectors (throws when they are collinear). */
export function planeBasis(a: Float64Array, b: Float64Array, c: Float64Array): PlaneBasis {
  const u = Float64Array.from(b, (x, i) => x - a[i])
  const nb = Math.sqrt(dot(u, u))
  if (!(nb > 0)) throw new Error('plane: models A and B have identical weights; choose three different models')
  for (let i = 0; i < u.length; i++) u[i] /= nb
  const ca = Float64Array.from(c, (x, i) => x - a[i])
  const cx = dot(ca, u)
  const v = Float64Array.from(ca, (x, i) => x - cx * u[i])
  const cy = Math.sqrt(dot(v, v))
  if (!(cy > 1e-9 * Math.max(nb, 1)))
    throw new Error('plane: model C lies on the line through A and B; choose three models that span a plane')
  for (let i = 0; i < v.length; i++) v[i] /= cy
  return {
    origin: a,
    u,
    v,
    coords: [
      [0, 0],
      [nb, 0],
      [cx, cy]
    ]
  }
}

/** Weights at (x, y): A + x·u + y·v, in A's layout (int buffers A's). */
export function pointWeights(template: readonly NamedWeight[], basis: PlaneBasis, x: number, y: number): NamedWeight[] {
  let at = 0
  return template.map((w) => {
    if (w.kind === 'int') return w
    const base = at
    at += w.data.length
    const { origin, u, v } = basis
    return { ...w, data: float32Of(w.data.length, (j) => origin[base + j] + x * u[base + j] + y * v[base + j]) }
  })
}

/** Grid axis values covering `values` with the margin. */
export function axis(values: readonly number[], n: number, margin: number): number[] {
  const lo = Math.min(...values)
  const hi = Math.max(...values)
  const pad = margin * (hi - lo)
  return Array.from({ length: n }, (_, i) => (n === 1 ? (lo + hi) / 2 : lo - pad + ((hi - lo + 2 * pad) * i) / (n - 1)))
}

/** Loss and metrics on the plane through three models (see the file header). */
export async function lossPlane(o: PlaneOptions): Promise<PlaneResult> {
  if (o.models.length !== 3) throw new Error(`plane: expected three models, got ${o.models.length}`)
  const n = o.grid ?? 21
  if (!Number.isInteger(n) || n < 2 || n > 101) throw new Error(`grid: expected a whole number from 2 to 101, got ${n}`)
  const margin = o.margin ?? 0.2
  if (!(margin >= 0 && margin <= 5)) throw new Error(`margin: expected a number from 0 to 5, got ${margin}`)
  const cks: Checkpoint[] = []
  for (const m of o.models) cks.push(await readCheckpoint(m.dir, { optimizer: false }))
  checkSameLayout(cks[0].weights, cks[1].weights, `plane (${o.models[0].id}, ${o.models[1].id})`)
  checkSameLayout(cks[0].weights, cks[2].weights, `plane (${o.models[0].id}, ${o.models[2].id})`)
  const template = cks[0].weights
  const basis = planeBasis(flatten(cks[0].weights), flatten(cks[1].weights), flatten(cks[2].weights))
  cks.length = 1 // B and C are no longer needed
  const soups: PlaneSoup[] = []
  for (const s of o.soups ?? []) {
    const ck = await readCheckpoint(s.dir, { optimizer: false })
    checkSameLayout(template, ck.weights, `plane (soup ${s.id})`)
    const d = flatten(ck.weights)
    for (let i = 0; i < d.length; i++) d[i] -= basis.origin[i]
    const x = dot(d, basis.u)
    const y = dot(d, basis.v)
    let r = 0
    for (let i = 0; i < d.length; i++) {
      const e = d[i] - x * basis.u[i] - y * basis.v[i]
      r += e * e
    }
    soups.push({ id: s.id, method: s.method ?? null, x, y, distance: Math.sqrt(r) })
  }
  const xs = axis(
    basis.coords.map((c) => c[0]),
    n,
    margin
  )
  const ys = axis(
    basis.coords.map((c) => c[1]),
    n,
    margin
  )
  const ev = await WeightEvaluator.open({
    template: cks[0],
    datasetDir: o.datasetDir,
    split: o.split,
    bnBatches: o.bnBatches,
    batchSize: o.batchSize,
    signal: o.signal
  })
  try {
    const models: PlaneModel[] = []
    for (const [i, m] of o.models.entries()) {
      const [x, y] = basis.coords[i]
      models.push({ id: m.id, x, y, ...(await ev.score(pointWeights(template, basis, x, y))) })
    }
    const grid: PlanePoint[] = []
    const total = n * n
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const index = j * n + i
        const p = o.done?.[String(index)] ?? {
          x: xs[i],
          y: ys[j],
          ...(await ev.score(pointWeights(template, basis, xs[i], ys[j])))
        }
        grid.push(p)
        o.onPoint?.(index, p, grid.length, total)
      }
    }
    return { models, grid, xs, ys, soups }
  } finally {
    await ev.close()
  }
}
