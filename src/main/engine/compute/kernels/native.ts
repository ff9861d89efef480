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
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise_backprop'
import { assertNHWC, heapF32 } from './wasm_util'

type Info = backend_util.Conv2DInfo | ReturnType<typeof backend_util.computePool2DInfo>

/** The addon's geometry vector of a conv or pool info (see native/ff_native.c `Geom`). */
export function nativeGeom(i: Info): Int32Array {
  return Int32Array.from([
    i.batchSize, i.inHeight, i.inWidth, i.inChannels, i.outHeight, i.outWidth, i.outChannels,
    i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, i.dilationHeight, i.dilationWidth,
    i.padInfo.top, i.padInfo.left
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
  const conv = (x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, a: Conv2DAttrs, act: number, backend: BackendWasm) => {
    const info = convInfo(x, filter.shape, a)
    const out = backend.makeOutput(info.outShape, 'float32')
    const b = bias === undefined ? null : heapF32(backend, bias)
    addon.conv2d(heapF32(backend, x), heapF32(backend, filter), b, heapF32(backend, out), nativeGeom(info), act)
    return out
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
  const share = (args: Parameters<KernelFunc>[0], name: string): TensorInfo | TensorInfo[] => {
    const x = args.inputs.x as TensorInfo
    const to = (args.attrs as unknown as Partial<CastAttrs> | undefined)?.dtype ?? x.dtype
    if (x.dtype === 'string' || to !== x.dtype) return own(name)(args)
    ;(args.backend as BackendWasm).incRef(x.dataId)
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
  }
  // Element-wise a op b over two float32 tensors of one shape (wasm's own binary ops are ~5× slower at these sizes).
  const same = (args: Parameters<KernelFunc>[0], op: number): TensorInfo => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo }
    const be = args.backend as BackendWasm
    const out = be.makeOutput(a.shape, 'float32')
    if (util.sizeFromShape(a.shape) > 0) addon.binary(heapF32(be, a), heapF32(be, b), heapF32(be, out), op)
    return out
  }
  return [
    {
      kernelName: Sub,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo }
        if (a.dtype !== 'float32' || b.dtype !== 'float32') return own(Sub)(args)
        if (util.arraysEqual(a.shape, b.shape)) return same(args, 1)
        // x − a per-channel vector (BatchNorm's moments), or the vector minus x.
        const [big, v, op] = isBiasOf(a, b) ? [a, b, 1] : isBiasOf(b, a) ? [b, a, 3] : []
        if (big === undefined || v === undefined || op === undefined) return own(Sub)(args)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(big.shape, 'float32')
        addon.biasOp(heapF32(be, big), heapF32(be, v), heapF32(be, out), op)
        return out
      }) as KernelFunc
    },
    {
      kernelName: FF_RELU_GRAD,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo }
        const be = backend as BackendWasm
        const out = be.makeOutput(x.shape, 'float32')
        const op = ({ relu: 3, relu6: 4, square: 5 } as Record<string, number>)[(attrs as unknown as { op: string }).op]
        if (util.sizeFromShape(x.shape) > 0) addon.binary(heapF32(be, dy), heapF32(be, x), heapF32(be, out), op)
        return out
      }) as KernelFunc
    },
    {
      // Per-channel statistics (BatchNorm in training and inference): one pass x · k + c.
      kernelName: FusedBatchNorm,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>
        const eps = (args.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon
        const perChannel = (t: TensorInfo | undefined, required: boolean): boolean =>
          t == null ? !required : t.dtype === 'float32' && isBiasOf(x!, t)
        if (x!.dtype !== 'float32' || !perChannel(mean, true) || !perChannel(variance, true) || !perChannel(offset, false) || !perChannel(scale, false)) {
          return own(FusedBatchNorm)(args)
        }
        const be = args.backend as BackendWasm
        const out = be.makeOutput(x!.shape, 'float32')
        const view = (t: TensorInfo | undefined): Float32Array | null => (t == null ? null : heapF32(be, t))
        addon.batchNorm(heapF32(be, x!), view(mean)!, view(variance)!, view(offset), view(scale), heapF32(be, out), eps)
        return out
      }) as KernelFunc
    },
    {
      // BatchNorm + ReLU in inference (models/layers.ts): one pass instead of two.
      kernelName: FF_BN_RELU,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>
        const eps = (args.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon
        const perChannel = (t: TensorInfo | undefined, required: boolean): boolean =>
          t == null ? !required : t.dtype === 'float32' && isBiasOf(x!, t)
        const be = args.backend as BackendWasm
        if (x!.dtype !== 'float32' || !perChannel(mean, true) || !perChannel(variance, true) || !perChannel(offset, false) || !perChannel(scale, false)) {
          const y = own(FusedBatchNorm)(args) as TensorInfo
          const out = own(Relu)({ inputs: { x: y }, attrs: {}, backend: be }) as TensorInfo
          be.disposeData(y.dataId)
          return out
        }
        const out = be.makeOutput(x!.shape, 'float32')
        const view = (t: TensorInfo | undefined): Float32Array | null => (t == null ? null : heapF32(be, t))
        addon.batchNorm(heapF32(be, x!), view(mean)!, view(variance)!, view(offset), view(scale), heapF32(be, out), eps, true)
        return out
      }) as KernelFunc
    },
    {
      kernelName: FF_CLIP_GRAD,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo }
        const { min, max } = attrs as unknown as { min: number; max: number }
        const be = backend as BackendWasm
        const out = be.makeOutput(x.shape, 'float32')
        if (util.sizeFromShape(x.shape) > 0) addon.clipGrad(heapF32(be, dy), heapF32(be, x), heapF32(be, out), min, max)
        return out
      }) as KernelFunc
    },
    {
      // Depthwise gradients with channel multiplier 1 (MobileNetV2); others run the JS kernels.
      kernelName: DepthwiseConv2dNativeBackpropInput,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const a = args.attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs
        const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo }
        if (filter.shape[3] !== 1 || dy.dtype !== 'float32') return depthwiseBackpropInputConfig.kernelFunc(args)
        const info = backend_util.computeConv2DInfo(a.inputShape as [number, number, number, number], filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, true)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(a.inputShape, 'float32')
        addon.depthwiseBackprop(0, heapF32(be, dy), heapF32(be, filter), heapF32(be, out), nativeGeom(info))
        return out
      }) as KernelFunc
    },
    {
      kernelName: DepthwiseConv2dNativeBackpropFilter,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const a = args.attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs
        const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo }
        if (a.filterShape[3] !== 1 || x.dtype !== 'float32') return depthwiseBackpropFilterConfig.kernelFunc(args)
        const info = backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode, true)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(a.filterShape, 'float32')
        addon.depthwiseBackprop(1, heapF32(be, x), heapF32(be, dy), heapF32(be, out), nativeGeom(info))
        return out
      }) as KernelFunc
    },
    {
      kernelName: FF_BN_REDUCE,
      backendName: 'wasm',
      kernelFunc: (({ inputs, backend }) => {
        const { dy, x, mean } = inputs as { dy: TensorInfo; x: TensorInfo; mean: TensorInfo }
        const be = backend as BackendWasm
        const outs = [be.makeOutput(mean.shape, 'float32'), be.makeOutput(mean.shape, 'float32')]
        const [s1, s2] = outs.map((t) => heapF32(be, t))
        addon.bnReduce(heapF32(be, dy), heapF32(be, x), heapF32(be, mean), s1, s2)
        return outs
      }) as KernelFunc
    },
    { kernelName: Identity, backendName: 'wasm', kernelFunc: ((args) => share(args, Identity)) as KernelFunc },
    { kernelName: Cast, backendName: 'wasm', kernelFunc: ((args) => share(args, Cast)) as KernelFunc },
    {
      kernelName: Add,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo }
        if (a.dtype !== 'float32' || b.dtype !== 'float32') return own(Add)(args)
        if (util.arraysEqual(a.shape, b.shape)) return same(args, 0)
        const [big, bias] = isBiasOf(a, b) ? [a, b] : isBiasOf(b, a) ? [b, a] : []
        if (big === undefined || bias === undefined) return own(Add)(args)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(big.shape, 'float32')
        addon.addBias(heapF32(be, big), heapF32(be, bias), heapF32(be, out))
        return out
      }) as KernelFunc
    },
    {
      // A tensor times a per-channel vector (BatchNorm's scale and its gradient); wasm's own broadcasting Multiply is ~10× slower.
      kernelName: Multiply,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo }
        if (a.dtype !== 'float32' || b.dtype !== 'float32') return own(Multiply)(args)
        if (util.arraysEqual(a.shape, b.shape)) return same(args, 2)
        const [big, v] = isBiasOf(a, b) ? [a, b] : isBiasOf(b, a) ? [b, a] : []
        if (big === undefined || v === undefined) return own(Multiply)(args)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(big.shape, 'float32')
        addon.biasOp(heapF32(be, big), heapF32(be, v), heapF32(be, out), 2)
        return out
      }) as KernelFunc
    },
    {
      kernelName: FF_FILL_ROWS,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const v = inputs.v as TensorInfo
        const { shape, divisor } = attrs as unknown as { shape: number[]; divisor: number }
        const be = backend as BackendWasm
        const out = be.makeOutput(shape, 'float32')
        addon.fillRows(heapF32(be, v), heapF32(be, out), divisor)
        return out
      }) as KernelFunc
    },
    {
      kernelName: Conv2D,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const a = args.attrs as unknown as Conv2DAttrs
        const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo }
        if (!isNHWC(a.dataFormat) || x.dtype !== 'float32') return own(Conv2D)(args)
        return conv(x, filter, undefined, a, 0, args.backend as BackendWasm)
      }) as KernelFunc
    },
    {
      kernelName: FusedConv2D,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const a = args.attrs as unknown as FusedConv2DAttrs
        const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>
        const act = ACTIVATIONS[a.activation ?? 'linear']
        const co = filter!.shape[3]
        const biasOk = bias == null || util.sizeFromShape(bias.shape) === co
        if (!isNHWC(a.dataFormat) || act === undefined || preluActivationWeights != null || !biasOk || x!.dtype !== 'float32') {
          return own(FusedConv2D)(args)
        }
        return conv(x!, filter!, bias ?? undefined, a, act, args.backend as BackendWasm)
      }) as KernelFunc
    },
    {
      kernelName: Conv2DBackpropFilter,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const a = attrs as unknown as Conv2DBackpropFilterAttrs
        const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo }
        assertNHWC(Conv2DBackpropFilter, a.dataFormat)
        const info = convInfo(x, a.filterShape, { ...a, dilations: 1 })
        const be = backend as BackendWasm
        const out = be.makeOutput(a.filterShape, 'float32')
        addon.conv2dBackpropFilter(heapF32(be, x), heapF32(be, dy), heapF32(be, out), nativeGeom(info))
        return out
      }) as KernelFunc
    },
    {
      kernelName: Conv2DBackpropInput,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const a = attrs as unknown as Conv2DBackpropInputAttrs
        const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo }
        assertNHWC(Conv2DBackpropInput, a.dataFormat)
        const info = convInfo({ ...dy, shape: a.inputShape }, filter.shape, { ...a, dilations: 1 })
        const be = backend as BackendWasm
        const out = be.makeOutput(a.inputShape, 'float32')
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
        addon.conv2dBackpropInput(heapF32(be, dy), heapF32(be, filter), heapF32(be, out), nativeGeom(info), buf ?? null, fill)
        return out
      }) as KernelFunc
    },
    {
      kernelName: MaxPoolGrad,
      backendName: 'wasm',
      kernelFunc: (({ inputs, attrs, backend }) => {
        const a = attrs as unknown as MaxPoolGradAttrs
        const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo }
        const info = backend_util.computePool2DInfo(
          input.shape as [number, number, number, number],
          a.filterSize,
          a.strides,
          1,
          a.pad,
          a.dimRoundingMode
        )
        const be = backend as BackendWasm
        const out = be.makeOutput(input.shape, 'float32')
        addon.maxPoolGrad(heapF32(be, dy), heapF32(be, input), heapF32(be, out), nativeGeom(info))
        return out
      }) as KernelFunc
    },
    {
      // A float32 slice (the gradient of the zero padding before every strided convolution): the
      // backend's own copies element by element across the padded axes.
      kernelName: Slice,
      backendName: 'wasm',
      kernelFunc: ((args) => {
        const x = args.inputs.x as TensorInfo
        const a = args.attrs as unknown as SliceAttrs
        if (x.dtype !== 'float32' || x.shape.length < 1 || x.shape.length > 8) return own(Slice)(args)
        const [begin, size] = slice_util.parseSliceParams(x, a.begin, a.size)
        const be = args.backend as BackendWasm
        const out = be.makeOutput(size, 'float32')
        if (util.sizeFromShape(size) === 0) return out
        // Trailing axes taken whole merge into one contiguous run.
        let k = x.shape.length - 1
        while (k > 0 && begin[k] === 0 && size[k] === x.shape[k]) k--
        const tail = util.sizeFromShape(x.shape.slice(k + 1))
        const merged = (v: number[], whole: number) => Int32Array.from([...v.slice(0, k), v[k] * whole])
        addon.slice(heapF32(be, x), heapF32(be, out), merged(x.shape, tail), merged(begin, tail), merged(size, tail))
        return out
      }) as KernelFunc
    },
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
function leadingReduction(addon: NativeAddon, own: (name: string) => KernelFunc, name: string, mean: boolean): KernelFunc {
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
