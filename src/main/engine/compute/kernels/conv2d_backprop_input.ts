import { backend_util, Conv2DBackpropInput, type Conv2DBackpropInputAttrs, type TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import { assertNHWC, heapF32, release, runConv2D, wasmKernel } from './wasm_util'

/**
 * dX of a 2-D convolution as ONE forward convolution on XNNPACK: the full
 * correlation of dy (zero-dilated by the stride) with the spatially flipped
 * filter whose in/out channels are swapped.
 */
export function conv2dBackpropInputImpl(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  attrs: Conv2DBackpropInputAttrs
): TensorInfo {
  assertNHWC(Conv2DBackpropInput, attrs.dataFormat)
  const [kh, kw, ci, co] = filter.shape
  const [n, h, w] = attrs.inputShape
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode
  )
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info
  // Offset of dy's first row/column in the fully padded, dilated grid.
  const top = kh - 1 - info.padInfo.top
  const left = kw - 1 - info.padInfo.left

  const flipped = backend.makeOutput([kh, kw, co, ci], 'float32')
  {
    const src = heapF32(backend, filter)
    const dst = heapF32(backend, flipped)
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const s0 = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co
        const d0 = (a * kw + b) * co * ci
        for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) dst[d0 + o * ci + c] = src[s0 + c * co + o]
      }
    }
  }
  const hp = h + kh - 1
  const wp = w + kw - 1
  const bottom = hp - top - (oh - 1) * sh - 1
  const right = wp - left - (ow - 1) * sw - 1
  let dx: TensorInfo
  if (sh === 1 && sw === 1 && top >= 0 && left >= 0 && bottom >= 0 && right >= 0) {
    // Stride 1: XNNPACK pads for us.
    dx = runConv2D(backend, dy, flipped, 1, [top, bottom, left, right])
  } else {
    const grid = backend.makeOutput([n, hp, wp, co], 'float32')
    const src = heapF32(backend, dy)
    const dst = heapF32(backend, grid)
    dst.fill(0)
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < oh; r++) {
        const gr = top + r * sh
        if (gr < 0 || gr >= hp) continue
        for (let c = 0; c < ow; c++) {
          const gc = left + c * sw
          if (gc < 0 || gc >= wp) continue
          const s = ((b * oh + r) * ow + c) * co
          dst.set(src.subarray(s, s + co), ((b * hp + gr) * wp + gc) * co)
        }
      }
    }
    dx = runConv2D(backend, grid, flipped, 1, 'valid')
    release(backend, grid)
  }
  release(backend, flipped)
  return dx
}

/** Registration glue for {@link conv2dBackpropInputImpl}. */
export const conv2dBackpropInputConfig = wasmKernel<Conv2DBackpropInputAttrs>(
  Conv2DBackpropInput,
  ({ dy, filter }, attrs, backend) => conv2dBackpropInputImpl(backend, dy, filter, attrs)
)
