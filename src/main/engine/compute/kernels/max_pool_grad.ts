import { backend_util, MaxPoolGrad, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import { heapF32, wasmKernel, type Shape4 } from './wasm_util'

/** The pool info of a MaxPoolGrad (no dilation) of an input of shape `xShape`. */
export function maxPoolInfo(xShape: number[], a: MaxPoolGradAttrs): backend_util.Conv2DInfo {
  return backend_util.computePool2DInfo(xShape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode)
}

/**
 * Max-pool gradient in one pass over the windows: each window's dy goes to
 * the first maximum in row-major window order (strict `>`, NaN never wins),
 * the same rule as the cpu backend, so results match it exactly.
 */
export function maxPoolGradImpl(
  backend: BackendWasm,
  dy: TensorInfo,
  x: TensorInfo,
  attrs: MaxPoolGradAttrs
): TensorInfo {
  const info = maxPoolInfo(x.shape, attrs)
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info
  const { top, left } = info.padInfo
  const out = backend.makeOutput(x.shape, 'float32')
  const xs = heapF32(backend, x)
  const dys = heapF32(backend, dy)
  const dx = heapF32(backend, out)
  dx.fill(0)
  const best = new Float32Array(c)
  const arg = new Int32Array(c)
  for (let b = 0; b < n; b++) {
    const xb = b * h * w * c
    for (let r = 0; r < oh; r++) {
      const r0 = Math.max(0, r * sh - top)
      const r1 = Math.min(h, r * sh - top + fh)
      for (let q = 0; q < ow; q++) {
        const q0 = Math.max(0, q * sw - left)
        const q1 = Math.min(w, q * sw - left + fw)
        best.fill(-Infinity)
        arg.fill(-1)
        for (let i = r0; i < r1; i++) {
          for (let j = q0; j < q1; j++) {
            const p = xb + (i * w + j) * c
            for (let k = 0; k < c; k++) {
              const v = xs[p + k]
              if (v > best[k]) {
                best[k] = v
                arg[k] = p + k
              }
            }
          }
        }
        const g = ((b * oh + r) * ow + q) * c
        for (let k = 0; k < c; k++) if (arg[k] >= 0) dx[arg[k]] += dys[g + k]
      }
    }
  }
  return out
}

/** Registration glue for {@link maxPoolGradImpl}. */
export const maxPoolGradConfig = wasmKernel<MaxPoolGradAttrs>(MaxPoolGrad, ({ dy, input }, attrs, backend) =>
  maxPoolGradImpl(backend, dy, input, attrs)
)
