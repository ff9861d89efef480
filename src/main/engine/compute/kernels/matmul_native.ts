// Matrix products of the native addon on the wasm backend, for the Vision
// Transformer's Dense layers on token sequences: tfjs-backend-wasm 4.22's
// BatchMatMul with transposeA or transposeB (the gradients of every Dense
// layer) runs ~5-10x slower than its forward product. The addon's pointwise
// (1×1) convolution kernels are OpenBLAS sgemm calls on row-major matrices:
//   conv2d                  a[M,K] · b[K,N]
//   conv2dBackpropFilter    a[K,M]ᵀ · b[K,N]
//   conv2dBackpropInput     a[M,K] · b[N,K]ᵀ
// so each batch of the product is one such call. Both-transposed products,
// other dtypes, unsupported fused activations and small products (where a call
// costs more than it saves) go to the backend's own kernel.
import {
  BatchMatMul,
  _FusedMatMul,
  util,
  type BatchMatMulAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type _FusedMatMulAttrs
} from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import type { NativeAddon } from '../native'
import { heapF32 } from './wasm_util'

/** Products with fewer multiply-adds per batch than this stay on the wasm kernel. */
export const MIN_NATIVE_MACS = 32 * 32 * 32

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 }

/** The addon's geometry of a 1×1 convolution over `rows` pixels: (n, h, w, ci, oh, ow, co, kh, kw, sh, sw, dh, dw, top, left). */
function pointwise(rows: number, ci: number, co: number): Int32Array {
  return Int32Array.from([1, 1, rows, ci, 1, rows, co, 1, 1, 1, 1, 1, 1, 0, 0])
}

interface Plan {
  /** Shape of the output: the broadcast batch dimensions, then m × n. */
  outShape: number[]
  batch: number
  m: number
  k: number
  n: number
  /** Whether a / b hold one matrix for the whole batch. */
  aOnce: boolean
  bOnce: boolean
}

/**
 * Shapes of a product of (…, rows, cols) operands, or null when the native path does not apply
 * (both transposed, not float32, a broadcast other than one side holding a single matrix, or small).
 */
function plan(a: TensorInfo, b: TensorInfo, ta: boolean, tb: boolean): Plan | null {
  const ra = a.shape.length
  const rb = b.shape.length
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2 || (ta && tb)) return null
  const outerA = a.shape.slice(0, -2)
  const outerB = b.shape.slice(0, -2)
  const batchA = util.sizeFromShape(outerA)
  const batchB = util.sizeFromShape(outerB)
  let outer: number[]
  if (batchA === 1) outer = outerB.length >= outerA.length ? outerB : outerA
  else if (batchB === 1) outer = outerA.length >= outerB.length ? outerA : outerB
  else if (outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA
  else return null
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2]
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1]
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1]
  if ((tb ? b.shape[rb - 1] : b.shape[rb - 2]) !== k || m * n * k < MIN_NATIVE_MACS) return null
  return {
    outShape: [...outer, m, n],
    batch: Math.max(batchA, batchB),
    m,
    k,
    n,
    aOnce: batchA === 1,
    bOnce: batchB === 1
  }
}

/**
 * BatchMatMul and _FusedMatMul (bias + linear / relu / relu6) through the addon;
 * `own(name)` is the backend's kernel for the cases not covered.
 */
export function nativeMatMulConfigs(addon: NativeAddon, own: (name: string) => KernelFunc): KernelConfig[] {
  const run = (
    be: BackendWasm,
    a: TensorInfo,
    b: TensorInfo,
    ta: boolean,
    tb: boolean,
    p: Plan,
    bias: TensorInfo | null,
    act: number
  ): TensorInfo => {
    const { batch, m, k, n } = p
    const out = be.makeOutput(p.outShape, 'float32')
    // Heap views only after the last allocation.
    const A = heapF32(be, a)
    const B = heapF32(be, b)
    const O = heapF32(be, out)
    const bv = bias === null ? null : heapF32(be, bias)
    const sa = p.aOnce ? 0 : m * k
    const sb = p.bOnce ? 0 : k * n
    for (let i = 0; i < batch; i++) {
      const ai = A.subarray(i * sa, i * sa + m * k)
      const bi = B.subarray(i * sb, i * sb + k * n)
      const oi = O.subarray(i * m * n, (i + 1) * m * n)
      if (!ta && !tb) addon.conv2d(ai, bi, bv, oi, pointwise(m, k, n), act)
      else if (ta) addon.conv2dBackpropFilter(ai, bi, oi, pointwise(k, m, n))
      else addon.conv2dBackpropInput(ai, bi, oi, pointwise(m, n, k))
    }
    return out
  }
  return [
    {
      kernelName: BatchMatMul,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo }
        const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs
        const p = plan(a, b, transposeA, transposeB)
        if (p === null) return own(BatchMatMul)(args)
        return run(args.backend as BackendWasm, a, b, transposeA, transposeB, p, null, 0)
      }) as KernelFunc
    },
    {
      kernelName: _FusedMatMul,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>
        const { transposeA, transposeB, activation } = args.attrs as unknown as _FusedMatMulAttrs
        const act = ACTIVATIONS[activation ?? 'linear']
        const p = plan(a!, b!, transposeA, transposeB)
        const biasOk =
          bias == null ||
          (bias.dtype === 'float32' && p !== null && util.sizeFromShape(bias.shape) === p.n && bias.shape.length === 1)
        if (p === null || transposeA || transposeB || act === undefined || preluActivationWeights != null || !biasOk)
          return own(_FusedMatMul)(args)
        return run(args.backend as BackendWasm, a!, b!, false, false, p, bias ?? null, act)
      }) as KernelFunc
    }
  ]
}
