import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type TensorInfo
} from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import { heapF32, wasmKernel, type Shape4 } from './wasm_util'

/**
 * Visits every (input pixel, filter tap, output pixel) triple of a depthwise
 * convolution once; `tap(xOffset, filterOffset, dyOffset)` gets the offsets of
 * channel 0 (input channel c pairs with filter c·M+m and dy c·M+m).
 */
function forEachTap(info: backend_util.Conv2DInfo, tap: (xo: number, fo: number, go: number) => void): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, outChannels } = info
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info
  const { filterHeight: fh, filterWidth: fw } = info
  const { top, left } = info.padInfo
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++) {
        const go = ((b * oh + r) * ow + q) * outChannels
        for (let a = 0; a < fh; a++) {
          const i = r * sh - top + a * dh
          if (i < 0 || i >= h) continue
          for (let e = 0; e < fw; e++) {
            const j = q * sw - left + e * dw
            if (j < 0 || j >= w) continue
            tap(((b * h + i) * w + j) * c, (a * fw + e) * outChannels, go)
          }
        }
      }
    }
  }
}

/** The conv info of a depthwise convolution (attrs of either gradient kernel). */
export function depthwiseInfo(
  xShape: number[],
  filterShape: number[],
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs | DepthwiseConv2dNativeBackpropInputAttrs
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true
  )
}

/**
 * A gradient of shape `outShape` summed over every tap of `info`: `tap(p, q, out, c, m)` returns
 * the visitor adding one tap's terms to `out` (zeroed first), `p` and `q` being heap views of the two
 * inputs, `c` the input channels and `m` the channel multiplier.
 */
function sumOverTaps(
  backend: BackendWasm,
  info: backend_util.Conv2DInfo,
  outShape: number[],
  inputs: [TensorInfo, TensorInfo],
  tap: (
    p: Float32Array,
    q: Float32Array,
    out: Float32Array,
    c: number,
    m: number
  ) => (xo: number, fo: number, go: number) => void
): TensorInfo {
  const out = backend.makeOutput(outShape, 'float32')
  const view = heapF32(backend, out)
  view.fill(0)
  const c = info.inChannels
  forEachTap(info, tap(heapF32(backend, inputs[0]), heapF32(backend, inputs[1]), view, c, info.outChannels / c))
  return out
}

/** dW of a depthwise convolution: dW[a,e,c,m] = Σ x[b,i,j,c] · dy[b,r,q,c·M+m]. */
export const depthwiseBackpropFilterConfig = wasmKernel<DepthwiseConv2dNativeBackpropFilterAttrs>(
  DepthwiseConv2dNativeBackpropFilter,
  ({ x, dy }, attrs, backend) =>
    sumOverTaps(
      backend,
      depthwiseInfo(x.shape, attrs.filterShape, attrs),
      attrs.filterShape,
      [x, dy],
      (xs, g, dw, c, m) => (xo, fo, go) => {
        for (let k = 0; k < c; k++) {
          const v = xs[xo + k]
          for (let t = 0; t < m; t++) dw[fo + k * m + t] += v * g[go + k * m + t]
        }
      }
    )
)

/** dX of a depthwise convolution: dx[b,i,j,c] = Σ dy[b,r,q,c·M+m] · W[a,e,c,m]. */
export const depthwiseBackpropInputConfig = wasmKernel<DepthwiseConv2dNativeBackpropInputAttrs>(
  DepthwiseConv2dNativeBackpropInput,
  ({ dy, filter }, attrs, backend) =>
    sumOverTaps(
      backend,
      depthwiseInfo(attrs.inputShape, filter.shape, attrs),
      attrs.inputShape,
      [filter, dy],
      (f, g, dx, c, m) => (xo, fo, go) => {
        for (let k = 0; k < c; k++) {
          let s = 0
          for (let t = 0; t < m; t++) s += g[go + k * m + t] * f[fo + k * m + t]
          dx[xo + k] += s
        }
      }
    )
)
