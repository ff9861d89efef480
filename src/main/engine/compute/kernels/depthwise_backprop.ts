import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo
} from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import { heapF32 } from './wasm_util'

type Shape4 = [number, number, number, number]

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

function depthwiseInfo(
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

/** dW of a depthwise convolution: dW[a,e,c,m] = Σ x[b,i,j,c] · dy[b,r,q,c·M+m]. */
export function depthwiseBackpropFilterImpl(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs
): TensorInfo {
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs)
  const out = backend.makeOutput(attrs.filterShape, 'float32')
  const xs = heapF32(backend, x)
  const g = heapF32(backend, dy)
  const dw = heapF32(backend, out)
  dw.fill(0)
  const c = info.inChannels
  const m = info.outChannels / c
  forEachTap(info, (xo, fo, go) => {
    for (let k = 0; k < c; k++) {
      const v = xs[xo + k]
      for (let t = 0; t < m; t++) dw[fo + k * m + t] += v * g[go + k * m + t]
    }
  })
  return out
}

/** dX of a depthwise convolution: dx[b,i,j,c] = Σ dy[b,r,q,c·M+m] · W[a,e,c,m]. */
export function depthwiseBackpropInputImpl(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: DepthwiseConv2dNativeBackpropInputAttrs
): TensorInfo {
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs)
  const out = backend.makeOutput(attrs.inputShape, 'float32')
  const f = heapF32(backend, filter)
  const g = heapF32(backend, dy)
  const dx = heapF32(backend, out)
  dx.fill(0)
  const c = info.inChannels
  const m = info.outChannels / c
  forEachTap(info, (xo, fo, go) => {
    for (let k = 0; k < c; k++) {
      let s = 0
      for (let t = 0; t < m; t++) s += g[go + k * m + t] * f[fo + k * m + t]
      dx[xo + k] += s
    }
  })
  return out
}

/** Registration glue for {@link depthwiseBackpropFilterImpl}. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }) =>
    depthwiseBackpropFilterImpl(
      backend as BackendWasm,
      inputs.x as TensorInfo,
      inputs.dy as TensorInfo,
      attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs
    )) as KernelFunc
}

/** Registration glue for {@link depthwiseBackpropInputImpl}. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend, attrs }) =>
    depthwiseBackpropInputImpl(
      backend as BackendWasm,
      inputs.dy as TensorInfo,
      inputs.filter as TensorInfo,
      attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs
    )) as KernelFunc
}
