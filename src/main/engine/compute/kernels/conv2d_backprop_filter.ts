import { backend_util, Conv2DBackpropFilter, type Conv2DBackpropFilterAttrs, type TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import { assertNHWC, heapF32, release, runConv2D, runWasmKernel, wasmKernel, type Shape4 } from './wasm_util'

/** Tuning of Conv2DBackpropFilter (tests lower the limit to exercise both paths). */
export const conv2dBackpropFilterLimits = {
  /** Above this many floats (default 16 Mi = 64 MB) the patch matrix is not built and the convolution path runs. */
  maxPatchFloats: 16 * 1024 * 1024
}

/**
 * dW of a 2-D convolution. Small problems: one matrix product of the
 * transposed patch matrix Pᵀ [KH·KW·Ci, N·OH·OW] with dy [N·OH·OW, Co], whose
 * result is dW in HWIO order already. Large ones (where Pᵀ would not fit
 * comfortably): one forward convolution on XNNPACK (see {@link viaConv}).
 */
/** The conv info of a Conv2DBackpropFilter (no dilation) of an input of shape `xShape`. */
export function backpropFilterInfo(xShape: number[], a: Conv2DBackpropFilterAttrs): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(xShape as Shape4, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode)
}

export function conv2dBackpropFilterImpl(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: Conv2DBackpropFilterAttrs
): TensorInfo {
  assertNHWC(Conv2DBackpropFilter, attrs.dataFormat)
  const info = backpropFilterInfo(x.shape, attrs)
  const [kh, kw, ci] = attrs.filterShape
  const patchFloats = kh * kw * ci * info.batchSize * info.outHeight * info.outWidth
  return patchFloats <= conv2dBackpropFilterLimits.maxPatchFloats
    ? viaMatMul(backend, x, dy, info)
    : viaConv(backend, x, dy, info)
}

function viaMatMul(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info
  const { filterHeight: kh, filterWidth: kw, outChannels: co, strideHeight: sh, strideWidth: sw } = info
  const { top, left } = info.padInfo
  const cols = n * oh * ow
  const rows = kh * kw * ci
  const patches = backend.makeOutput([1, rows, cols], 'float32')
  const xs = heapF32(backend, x)
  const p = heapF32(backend, patches)
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let c = 0; c < ci; c++) {
        let o = ((a * kw + b) * ci + c) * cols
        for (let m = 0; m < n; m++) {
          for (let r = 0; r < oh; r++) {
            const i = r * sh - top + a
            if (i < 0 || i >= h) {
              p.fill(0, o, o + ow)
              o += ow
              continue
            }
            const rowBase = (m * h + i) * w
            for (let q = 0; q < ow; q++) {
              const j = q * sw - left + b
              p[o++] = j >= 0 && j < w ? xs[(rowBase + j) * ci + c] : 0
            }
          }
        }
      }
    }
  }
  const dy2d: TensorInfo = { dataId: dy.dataId, shape: [1, cols, co], dtype: dy.dtype }
  const prod = runWasmKernel(backend, 'BatchMatMul', { a: patches, b: dy2d }, { transposeA: false, transposeB: false })
  release(backend, patches)
  return { dataId: prod.dataId, shape: [kh, kw, ci, co], dtype: prod.dtype }
}

/**
 * dW as ONE forward convolution on XNNPACK: with the batch moved to the channel
 * axis, dW[kh,kw,ci,co] = Σ_{n,oh,ow} x[n, oh·s+kh-pt, ow·s+kw-pl, ci] ·
 * dy[n,oh,ow,co] is the convolution of x' = [Ci,H,W,N] with the filter
 * dy' = [OH,OW,N,Co] dilated by the stride.
 */
function viaConv(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: ci, outChannels: co, filterHeight: kh, filterWidth: kw } = info
  const { top, left } = info.padInfo
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info
  // Bottom/right padding that makes the output exactly kh×kw; when the input has
  // rows the forward pass never reached (valid + stride) it is negative: compute
  // the few extra rows instead and drop them below.
  const bottom = Math.max(0, kh - 1 + (oh - 1) * sh + 1 - h - top)
  const right = Math.max(0, kw - 1 + (ow - 1) * sw + 1 - w - left)

  const xT = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] })
  const dyT = runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] })
  const conv = runConv2D(backend, xT, dyT, [sh, sw], [top, bottom, left, right])
  release(backend, xT, dyT)
  // conv is [Ci, KH', KW', Co] with KH' ≥ KH; reorder to [KH, KW, Ci, Co].
  const out = backend.makeOutput([kh, kw, ci, co], 'float32')
  const [, khP, kwP] = conv.shape
  const src = heapF32(backend, conv)
  const dst = heapF32(backend, out)
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let c = 0; c < ci; c++) {
        const s = ((c * khP + a) * kwP + b) * co
        dst.set(src.subarray(s, s + co), ((a * kw + b) * ci + c) * co)
      }
    }
  }
  release(backend, conv)
  return out
}

/** Registration glue for {@link conv2dBackpropFilterImpl}. */
export const conv2dBackpropFilterConfig = wasmKernel<Conv2DBackpropFilterAttrs>(
  Conv2DBackpropFilter,
  ({ x, dy }, attrs, backend) => conv2dBackpropFilterImpl(backend, x, dy, attrs)
)
