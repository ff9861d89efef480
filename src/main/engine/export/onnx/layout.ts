/**
 * Weight layouts between TF.js (channels-last kernels) and ONNX (channels-first kernels).
 * Pure array code: no tensors, so nothing to dispose.
 */

/** How a TF.js weight is stored in ONNX. */
export type WeightLayout =
  /** Stored as is (biases, BatchNorm vectors, Dense kernels [in, out] used by Gemm). */
  | 'same'
  /** Conv2D kernel: TF.js [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
  | 'conv'
  /** DepthwiseConv2D kernel: TF.js [kh, kw, c, m] → ONNX [c·m, 1, kh, kw] (group = c). */
  | 'depthwise'

const PERM: Record<Exclude<WeightLayout, 'same'>, number[]> = { conv: [3, 2, 0, 1], depthwise: [2, 3, 0, 1] }

/** Row-major transpose of `data` (shape `shape`) so that output axis i is input axis perm[i]. */
export function permute(data: ArrayLike<number>, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length
  const outShape = perm.map((p) => shape[p])
  const inStrides = new Array<number>(rank)
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s
    s *= shape[i]
  }
  // Stride in the input of each output axis, walked with an odometer over the output.
  const strides = perm.map((p) => inStrides[p])
  const out = new Float32Array(data.length)
  const idx = new Array<number>(rank).fill(0)
  let src = 0
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++
      src += strides[a]
      if (idx[a] < outShape[a]) break
      src -= strides[a] * outShape[a]
      idx[a] = 0
    }
  }
  return out
}

function inverse(perm: number[]): number[] {
  const inv = new Array<number>(perm.length)
  perm.forEach((p, i) => {
    inv[p] = i
  })
  return inv
}

/** A TF.js weight in ONNX layout: values and ONNX dims. */
export function toOnnxLayout(
  layout: WeightLayout,
  data: ArrayLike<number>,
  tfShape: number[]
): { values: Float32Array; dims: number[] } {
  if (layout === 'same') return { values: Float32Array.from(data), dims: [...tfShape] }
  const values = permute(data, tfShape, PERM[layout])
  if (layout === 'conv') return { values, dims: PERM.conv.map((p) => tfShape[p]) }
  const [kh, kw, c, m] = tfShape
  return { values, dims: [c * m, 1, kh, kw] }
}

/** The inverse of {@link toOnnxLayout}: ONNX values back to a TF.js weight of shape `tfShape`. */
export function fromOnnxLayout(layout: WeightLayout, data: ArrayLike<number>, tfShape: number[]): Float32Array {
  if (layout === 'same') return Float32Array.from(data)
  const perm = PERM[layout]
  return permute(
    data,
    perm.map((p) => tfShape[p]),
    inverse(perm)
  )
}

/**
 * Explicit [begin, end] padding of one spatial axis for TF's 'same' padding: the output has
 * ceil(in / stride) positions and any odd padding goes at the end, exactly as TensorFlow does.
 */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const effective = (kernel - 1) * dilation + 1
  const outSize = Math.ceil(inSize / stride)
  const total = Math.max((outSize - 1) * stride + effective - inSize, 0)
  const begin = Math.floor(total / 2)
  return [begin, total - begin]
}
