/**
 * The common currency of weight import: PyTorch-named float32 tensors in PyTorch layouts, and
 * the per-architecture-family mapping functions that turn them into engine weights.
 */
import type { NamedWeight } from '../checkpoint'
import type { ArchBuildOptions } from '../types'

/** One tensor as PyTorch stores it (row-major, PyTorch layout), converted to float32. */
export interface TorchTensor {
  shape: number[]
  data: Float32Array
}

/** Tensors by PyTorch name (state_dict keys, e.g. `layer1.0.conv1.weight`). */
export type TorchTensors = ReadonlyMap<string, TorchTensor>

/** What a mapping did with the file's tensors (PyTorch names, with a note where useful). */
export interface MappingReport {
  /** Copied as they are (BatchNorm vectors, biases). */
  matched: string[]
  /** Copied with a layout change (conv OIHW → HWIO, linear transposed, folded BatchNorm restored). */
  reshaped: string[]
  /** In the file but not used (e.g. `num_batches_tracked`). */
  skipped: string[]
}

/** Result of a family's mapping: the engine architecture and its weights. */
export interface FromTorchResult {
  arch: string
  build: Partial<ArchBuildOptions>
  weights: NamedWeight[]
  report: MappingReport
}

/**
 * One architecture family: PyTorch-named tensors → engine weights, or null when the tensors are
 * not of this family. Throws (naming the tensor) when they are of the family but do not fit.
 */
export type FromTorch = (tensors: TorchTensors, options?: FromTorchOptions) => null | FromTorchResult

/** What a file cannot tell and the user may: a ViT's attention heads (not stored in its weights; default hidden / 64). */
export interface FromTorchOptions {
  heads?: number
}

/** conv OIHW → HWIO. */
export function oihwToHwio(t: TorchTensor): TorchTensor {
  return permute(t, [2, 3, 1, 0])
}

/** depthwise (C, 1, kh, kw) → (kh, kw, C, 1). */
export function depthwiseToHwc1(t: TorchTensor): TorchTensor {
  return permute(t, [2, 3, 0, 1])
}

/** Linear (out, in) → (in, out). */
export function transpose2d(t: TorchTensor): TorchTensor {
  return permute(t, [1, 0])
}

/** Generic row-major permutation: output axis i is input axis `perm[i]`. */
export function permute(t: TorchTensor, perm: number[]): TorchTensor {
  const rank = t.shape.length
  if (rank !== perm.length) throw new Error(`internal: permute of a rank-${rank} tensor with ${perm.length} axes`)
  const shape = perm.map((p) => t.shape[p])
  const inStrides = new Array<number>(rank)
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s
    s *= t.shape[i]
  }
  const strides = perm.map((p) => inStrides[p])
  const out = new Float32Array(t.data.length)
  const idx = new Array<number>(rank).fill(0)
  let src = 0
  for (let o = 0; o < out.length; o++) {
    out[o] = t.data[src]
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++
      src += strides[a]
      if (idx[a] < shape[a]) break
      src -= strides[a] * shape[a]
      idx[a] = 0
    }
  }
  return { shape, data: out }
}

/**
 * Collects engine weights from PyTorch tensors and the report, tracking what was used. Missing
 * tensors are an error naming the first one missing.
 */
export class Mapper {
  readonly weights: NamedWeight[] = []
  private readonly used = new Set<string>()
  private readonly matched: string[] = []
  private readonly reshaped: string[] = []
  /** Engine weight name → PyTorch name (for messages about shape mismatches). */
  readonly sourceOf = new Map<string, string>()

  constructor(
    readonly tensors: TorchTensors,
    readonly family: string
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name)
  }

  get(name: string): TorchTensor {
    const t = this.tensors.get(name)
    if (!t) throw new Error(`missing tensor ${name} (expected by ${this.family})`)
    this.used.add(name)
    return t
  }

  private put(torch: string, engine: string, t: TorchTensor, kind: NamedWeight['kind'], note: string | null): void {
    this.weights.push({ name: engine, shape: t.shape, kind, data: t.data })
    this.sourceOf.set(engine, torch)
    if (note) this.reshaped.push(`${torch} → ${engine} (${note})`)
    else this.matched.push(`${torch} → ${engine}`)
  }

  /** conv weight (OIHW, or depthwise C×1×kh×kw) → `<layer>/kernel` or `<layer>/depthwise_kernel`. */
  conv(torch: string, layer: string, depthwise = false): void {
    const t = this.get(torch)
    if (t.shape.length !== 4)
      throw new Error(
        `tensor ${torch}: shape [${t.shape}] is not a conv weight (4 dimensions expected, ${this.family})`
      )
    if (depthwise) {
      if (t.shape[1] !== 1)
        throw new Error(
          `tensor ${torch}: shape [${t.shape}] is not a depthwise conv weight (C, 1, kh, kw) (${this.family})`
        )
      this.put(torch, `${layer}/depthwise_kernel`, depthwiseToHwc1(t), 'trainable', 'depthwise C,1,kh,kw → kh,kw,C,1')
    } else {
      this.put(torch, `${layer}/kernel`, oihwToHwio(t), 'trainable', 'OIHW → HWIO')
    }
  }

  /** BatchNorm `<torch>.weight/bias/running_mean/running_var` → `<layer>/gamma/beta/moving_mean/moving_variance`. */
  bn(torch: string, layer: string): void {
    const parts: [string, string, NamedWeight['kind']][] = [
      ['weight', 'gamma', 'trainable'],
      ['bias', 'beta', 'trainable'],
      ['running_mean', 'moving_mean', 'bn-stat'],
      ['running_var', 'moving_variance', 'bn-stat']
    ]
    for (const [p, e, kind] of parts) {
      const t = this.get(`${torch}.${p}`)
      if (t.shape.length !== 1)
        throw new Error(`tensor ${torch}.${p}: shape [${t.shape}] is not a BatchNorm vector (${this.family})`)
      this.put(`${torch}.${p}`, `${layer}/${e}`, t, kind, null)
    }
    if (this.tensors.has(`${torch}.num_batches_tracked`)) this.used.delete(`${torch}.num_batches_tracked`)
  }

  /** Linear `<torch>.weight` (out, in) and `.bias` → `<layer>/kernel` (in, out) and `<layer>/bias`. */
  linear(torch: string, layer: string): void {
    const w = this.get(`${torch}.weight`)
    if (w.shape.length !== 2)
      throw new Error(`tensor ${torch}.weight: shape [${w.shape}] is not a linear weight (${this.family})`)
    this.put(`${torch}.weight`, `${layer}/kernel`, transpose2d(w), 'trainable', 'linear out,in → in,out')
    this.put(`${torch}.bias`, `${layer}/bias`, this.get(`${torch}.bias`), 'trainable', null)
  }

  /** The weights and the report; every tensor not used is listed as skipped. */
  finish(arch: string, build: Partial<ArchBuildOptions>): FromTorchResult {
    const skipped = [...this.tensors.keys()].filter((n) => !this.used.has(n))
    return { arch, build, weights: this.weights, report: { matched: this.matched, reshaped: this.reshaped, skipped } }
  }
}

/** The largest `i` (plus one) for which `name(i)` is a tensor: how many numbered modules there are. */
export function countModules(tensors: TorchTensors, name: (i: number) => string, from = 0): number {
  let i = from
  while (tensors.has(name(i))) i++
  return i - from
}
