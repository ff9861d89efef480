// Kernels of the native addon (native/ff_native.c) on the wasm backend: each
// allocates its output on the wasm heap and lets the addon compute on heap
// views in place. Cases the addon does not cover go to the backend's own kernel.
import {
  Add,
  backend_util,
  Cast,
  Identity,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  FusedBatchNorm,
  FusedConv2D,
  MaxPoolGrad,
  Mean,
  Relu,
  Slice,
  slice_util,
  Multiply,
  Sub,
  Sum,
  util,
  type Conv2DAttrs,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type FusedConv2DAttrs,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type CastAttrs,
  type SumAttrs,
  type SliceAttrs,
  type TensorInfo
} from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import type { NativeAddon } from '../native'
import { adamwKernelConfig } from './adamw'
import { FF_FILL_ROWS } from './mean_grad'
import { FF_CLIP_GRAD, FF_RELU_GRAD } from './relu_grad'
import { FF_BN_REDUCE, FF_BN_RELU } from './batchnorm_grad'
import { backpropFilterInfo } from './conv2d_backprop_filter'
import { maxPoolInfo } from './max_pool_grad'
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, depthwiseInfo } from './depthwise_backprop'
import { assertNHWC, floatOutput, heapF32, wasmKernel } from './wasm_util'

type Info = backend_util.Conv2DInfo | ReturnType<typeof backend_util.computePool2DInfo>

/** The addon's geometry vector of a conv or pool info (see native/ff_native.c `Geom`). */
export function nativeGeom(i: Info): Int32Array {
  return Int32Array.from([
    i.batchSize,
    i.inHeight,
    i.inWidth,
    i.inChannels,
    i.outHeight,
    i.outWidth,
    i.outChannels,
    i.filterHeight,
    i.filterWidth,
    i.strideHeight,
    i.strideWidth,
    i.dilationHeight,
    i.dilationWidth,
    i.padInfo.top,
    i.padInfo.left
  ])
}

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2 }

function convInfo(x: TensorInfo, filterShape: number[], a: Conv2DAttrs): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode
  )
}

/**
 * The addon's kernels for the wasm backend. `own(name)` returns the backend's
 * original kernel function, used for what the addon does not cover (another
 * data format, a fused activation other than linear/relu/relu6, PReLU weights,
 * a bias that is not one value per output channel, a sum over trailing axes,
 * an Add that is not a tensor plus a per-channel vector).
 */
export function nativeKernelConfigs(addon: NativeAddon, own: (name: string) => KernelFunc): KernelConfig[] {
  // Conv2DBackpropInput's transposed filters, by the filter tensor's data id (collected with it).
  // (null: seen once, nothing kept yet.)
  const prepared = new WeakMap<object, Map<string, Float32Array | null>>()
  const conv = (
    x: TensorInfo,
    filter: TensorInfo,
    bias: TensorInfo | undefined,
    a: Conv2DAttrs,
    act: number,
    be: BackendWasm
  ) => {
    const info = convInfo(x, filter.shape, a)
    return floatOutput(be, info.outShape, (out) =>
      addon.conv2d(
        heapF32(be, x),
        heapF32(be, filter),
        bias === undefined ? null : heapF32(be, bias),
        out,
        nativeGeom(info),
        act
      )
    )
  }
  const isNHWC = (f: string | undefined): boolean => f == null || f === 'NHWC' || f === 'channelsLast'
  // b is a per-channel vector of a: shape [C] or [1, …, 1, C] with C = a's last dimension.
  const isBiasOf = (a: TensorInfo, b: TensorInfo): boolean =>
    b.shape.length >= 1 &&
    b.shape.length <= a.shape.length &&
    b.shape.slice(0, -1).every((d) => d === 1) &&
    b.shape[b.shape.length - 1] === a.shape[a.shape.length - 1] &&
    util.sizeFromShape(a.shape) > 0
  // Identity and a same-dtype Cast share the input's heap buffer (reference
  // counted, as the cpu backend does) instead of copying it.
  const share = (name: string): KernelConfig =>
    wasmKernel<Partial<CastAttrs> | undefined>(name, ({ x }, attrs, be, args) => {
      const to = attrs?.dtype ?? x.dtype
      if (x.dtype === 'string' || to !== x.dtype) return own(name)(args)
      be.incRef(x.dataId)
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
    })
  // a op b over two float32 tensors: of one shape, the addon's element-wise `op` (wasm's own binary ops are
  // ~5× slower at these sizes); a tensor and a per-channel vector, `vector` (the vector first or second);
  // anything else, the backend's own kernel.
  const elementwise = (
    name: string,
    op: number,
    vector: (big: Float32Array, v: Float32Array, out: Float32Array, vectorFirst: boolean) => void
  ) =>
    wasmKernel(name, ({ a, b }, _attrs, be, args) => {
      if (a.dtype !== 'float32' || b.dtype !== 'float32') return own(name)(args)
      if (util.arraysEqual(a.shape, b.shape))
        return floatOutput(be, a.shape, (out) => addon.binary(heapF32(be, a), heapF32(be, b), out, op))
      const [big, v, vectorFirst] = isBiasOf(a, b) ? [a, b, false] : isBiasOf(b, a) ? [b, a, true] : []
      if (big === undefined || v === undefined || vectorFirst === undefined) return own(name)(args)
      return floatOutput(be, big.shape, (out) => vector(heapF32(be, big), heapF32(be, v), out, vectorFirst))
    })
  // BatchNorm in one native pass (then ReLU when `relu`) over float32 x with per-channel statistics;
  // anything else, the backend's own BatchNorm (then its ReLU).
  const batchNorm = (name: string, relu: boolean): KernelConfig =>
    wasmKernel<{ varianceEpsilon: number }>(name, (inputs, { varianceEpsilon }, be, args) => {
      const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined>
      const perChannel = (t: TensorInfo | undefined, required: boolean): boolean =>
        t == null ? !required : t.dtype === 'float32' && isBiasOf(x!, t)
      const native = x!.dtype === 'float32' && perChannel(mean, true) && perChannel(variance, true)
      if (!native || !perChannel(offset, false) || !perChannel(scale, false)) {
        const y = own(FusedBatchNorm)(args) as TensorInfo
        if (!relu) return y
        const out = own(Relu)({ inputs: { x: y }, attrs: {}, backend: be }) as TensorInfo
        be.disposeData(y.dataId)
        return out
      }
      const view = (t: TensorInfo | undefined): Float32Array | null => (t == null ? null : heapF32(be, t))
      return floatOutput(be, x!.shape, (out) =>
        addon.batchNorm(
          heapF32(be, x!),
          view(mean)!,
          view(variance)!,
          view(offset),
          view(scale),
          out,
          varianceEpsilon,
          relu
        )
      )
    })
  return [
    // x − a per-channel vector (BatchNorm's moments), or the vector minus x.
    elementwise(Sub, 1, (big, v, out, vectorFirst) => addon.biasOp(big, v, out, vectorFirst ? 3 : 1)),
    wasmKernel<{ op: string }>(FF_RELU_GRAD, ({ dy, x }, { op }, be) =>
      floatOutput(be, x.shape, (out) =>
        addon.binary(
          heapF32(be, dy),
          heapF32(be, x),
          out,
          ({ relu: 3, relu6: 4, square: 5 } as Record<string, number>)[op]
        )
      )
    ),
    // Per-channel statistics (BatchNorm in training and inference): one pass x · k + c.
    batchNorm(FusedBatchNorm, false),
    // BatchNorm + ReLU in inference (models/layers.ts): one pass instead of two.
    batchNorm(FF_BN_RELU, true),
    wasmKernel<{ min: number; max: number }>(FF_CLIP_GRAD, ({ dy, x }, { min, max }, be) =>
      floatOutput(be, x.shape, (out) => addon.clipGrad(heapF32(be, dy), heapF32(be, x), out, min, max))
    ),
    // Depthwise gradients with channel multiplier 1 (MobileNetV2); others run the JS kernels.
    wasmKernel<DepthwiseConv2dNativeBackpropInputAttrs>(
      DepthwiseConv2dNativeBackpropInput,
      ({ dy, filter }, a, be, args) => {
        if (filter.shape[3] !== 1 || dy.dtype !== 'float32') return depthwiseBackpropInputConfig.kernelFunc(args)
        const info = depthwiseInfo(a.inputShape, filter.shape, a)
        return floatOutput(be, a.inputShape, (out) =>
          addon.depthwiseBackprop(0, heapF32(be, dy), heapF32(be, filter), out, nativeGeom(info))
        )
      }
    ),
    wasmKernel<DepthwiseConv2dNativeBackpropFilterAttrs>(
      DepthwiseConv2dNativeBackpropFilter,
      ({ x, dy }, a, be, args) => {
        if (a.filterShape[3] !== 1 || x.dtype !== 'float32') return depthwiseBackpropFilterConfig.kernelFunc(args)
        const info = depthwiseInfo(x.shape, a.filterShape, a)
        return floatOutput(be, a.filterShape, (out) =>
          addon.depthwiseBackprop(1, heapF32(be, x), heapF32(be, dy), out, nativeGeom(info))
        )
      }
    ),
    wasmKernel(FF_BN_REDUCE, ({ dy, x, mean }, _attrs, be) => {
      const outs = [be.makeOutput(mean.shape, 'float32'), be.makeOutput(mean.shape, 'float32')]
      const [s1, s2] = outs.map((t) => heapF32(be, t))
      addon.bnReduce(heapF32(be, dy), heapF32(be, x), heapF32(be, mean), s1, s2)
      return outs
    }),
    share(Identity),
    share(Cast),
    elementwise(Add, 0, (big, bias, out) => addon.addBias(big, bias, out)),
    // A tensor times a per-channel vector (BatchNorm's scale and its gradient); wasm's own broadcasting Multiply is ~10× slower.
    elementwise(Multiply, 2, (big, v, out) => addon.biasOp(big, v, out, 2)),
    wasmKernel<{ shape: number[]; divisor: number }>(FF_FILL_ROWS, ({ v }, { shape, divisor }, be) =>
      floatOutput(be, shape, (out) => addon.fillRows(heapF32(be, v), out, divisor))
    ),
    wasmKernel<Conv2DAttrs>(Conv2D, ({ x, filter }, a, be, args) => {
      if (!isNHWC(a.dataFormat) || x.dtype !== 'float32') return own(Conv2D)(args)
      return conv(x, filter, undefined, a, 0, be)
    }),
    wasmKernel<FusedConv2DAttrs>(FusedConv2D, (inputs, a, be, args) => {
      const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>
      const act = ACTIVATIONS[a.activation ?? 'linear']
      const co = filter!.shape[3]
      const biasOk = bias == null || util.sizeFromShape(bias.shape) === co
      if (
        !isNHWC(a.dataFormat) ||
        act === undefined ||
        preluActivationWeights != null ||
        !biasOk ||
        x!.dtype !== 'float32'
      ) {
        return own(FusedConv2D)(args)
      }
      return conv(x!, filter!, bias ?? undefined, a, act, be)
    }),
    wasmKernel<Conv2DBackpropFilterAttrs>(Conv2DBackpropFilter, ({ x, dy }, a, be) => {
      assertNHWC(Conv2DBackpropFilter, a.dataFormat)
      const info = backpropFilterInfo(x.shape, a)
      return floatOutput(be, a.filterShape, (out) =>
        addon.conv2dBackpropFilter(heapF32(be, x), heapF32(be, dy), out, nativeGeom(info))
      )
    }),
    wasmKernel<Conv2DBackpropInputAttrs>(Conv2DBackpropInput, ({ dy, filter }, a, be) => {
      assertNHWC(Conv2DBackpropInput, a.dataFormat)
      const info = convInfo({ ...dy, shape: a.inputShape }, filter.shape, { ...a, dilations: 1 })
      // The filter transposed for the direct kernels, kept from its second use on while its
      // tensor lives (tensors are immutable; a weight update makes a new one): the micro-batches
      // of a step share it. A filter used once per step (no micro-batches) keeps nothing.
      const key = `${info.strideHeight},${info.strideWidth},${info.padInfo.top},${info.padInfo.left},${info.inHeight},${info.inWidth}`
      let byGeom = prepared.get(filter.dataId)
      if (byGeom === undefined) prepared.set(filter.dataId, (byGeom = new Map()))
      let buf = byGeom.get(key)
      const fill = buf == null
      if (buf === undefined) byGeom.set(key, null)
      else if (buf === null) byGeom.set(key, (buf = new Float32Array(util.sizeFromShape(filter.shape))))
      return floatOutput(be, a.inputShape, (out) =>
        addon.conv2dBackpropInput(heapF32(be, dy), heapF32(be, filter), out, nativeGeom(info), buf ?? null, fill)
      )
    }),
    wasmKernel<MaxPoolGradAttrs>(MaxPoolGrad, ({ dy, input }, a, be) => {
      const info = maxPoolInfo(input.shape, a)
      return floatOutput(be, input.shape, (out) =>
        addon.maxPoolGrad(heapF32(be, dy), heapF32(be, input), out, nativeGeom(info))
      )
    }),
    // A float32 slice (the gradient of the zero padding before every strided convolution): the
    // backend's own copies element by element across the padded axes.
    wasmKernel<SliceAttrs>(Slice, ({ x }, a, be, args) => {
      if (x.dtype !== 'float32' || x.shape.length < 1 || x.shape.length > 8) return own(Slice)(args)
      const [begin, size] = slice_util.parseSliceParams(x, a.begin, a.size)
      // Trailing axes taken whole merge into one contiguous run.
      let k = x.shape.length - 1
      while (k > 0 && begin[k] === 0 && size[k] === x.shape[k]) k--
      const tail = util.sizeFromShape(x.shape.slice(k + 1))
      const merged = (v: number[], whole: number) => Int32Array.from([...v.slice(0, k), v[k] * whole])
      return floatOutput(be, size, (out) =>
        addon.slice(heapF32(be, x), out, merged(x.shape, tail), merged(begin, tail), merged(size, tail))
      )
    }),
    { kernelName: Sum, backendName: 'wasm', kernelFunc: leadingReduction(addon, own, Sum, false) },
    // BatchNorm's batch moments in training are Means over (N, H, W).
    { kernelName: Mean, backendName: 'wasm', kernelFunc: leadingReduction(addon, own, Mean, true) },
    adamwKernelConfig(addon)
  ]
}

/**
 * Sum (or Mean) over leading axes natively (a bias gradient, BatchNorm's batch moments: all axes
 * but the channels); any other reduction goes to the backend's own kernel.
 */
function leadingReduction(
  addon: NativeAddon,
  own: (name: string) => KernelFunc,
  name: string,
  mean: boolean
): KernelFunc {
  return ((args) => {
    const a = args.attrs as unknown as SumAttrs
    const x = args.inputs.x as TensorInfo
    const axes = util.parseAxisParam(a.axis, x.shape).sort((p, q) => p - q)
    if (x.dtype !== 'float32' || axes.length === 0 || axes.some((v, i) => v !== i)) return own(name)(args)
    const k = axes.length
    const rows = util.sizeFromShape(x.shape.slice(0, k))
    const cols = util.sizeFromShape(x.shape.slice(k))
    const shape = a.keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k)
    const be = args.backend as BackendWasm
    const out = be.makeOutput(shape, 'float32')
    const sums = heapF32(be, out)
    addon.sumRows(heapF32(be, x), sums, rows, cols)
    if (mean) for (let c = 0; c < cols; c++) sums[c] /= rows
    return out
  }) as KernelFunc
}
