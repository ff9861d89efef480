import type { Attr, GraphBuilder } from './graph'
import { samePadding, type WeightLayout } from './layout'

/** A value flowing between layers: its ONNX name and its Keras shape without the batch axis. */
export interface Value {
  /** ONNX value name. */
  name: string
  /**
   * Keras (channels-last) shape without the batch axis: [h, w, c] for images, stored NCHW
   * inside the graph, or [features], stored [N, features].
   */
  shape: number[]
}

/** What a layer converter gets: the builder, the layer's config and inputs, and its weights. */
export interface LayerContext {
  g: GraphBuilder
  /** Layer name (for value names and errors). */
  name: string
  /** The layer's `getConfig()`. */
  config: Record<string, unknown>
  inputs: Value[]
  /** Adds the layer's weight `short` as an initializer in `layout`; returns its ONNX name. */
  weight(short: string, layout: WeightLayout): string
  /** An error naming the layer and what about it cannot be exported. */
  fail(reason: string): Error
}

/** Converts one Keras layer into ONNX nodes; returns the ONNX name of its output. */
export type LayerConverter = (ctx: LayerContext) => string

function pair(ctx: LayerContext, key: string, fallback?: number | number[]): [number, number] {
  const v = ctx.config[key] ?? fallback
  if (typeof v === 'number') return [v, v]
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]]
  throw ctx.fail(`config "${key}" is ${JSON.stringify(v)}, expected a number or a pair`)
}

function channelsLast(ctx: LayerContext): void {
  const f = ctx.config.dataFormat
  if (f !== undefined && f !== 'channelsLast')
    throw ctx.fail(`dataFormat "${String(f)}" (only channelsLast is exported)`)
}

function image(ctx: LayerContext, i = 0): Value {
  const v = ctx.inputs[i]
  if (v.shape.length !== 3) throw ctx.fail(`input has shape [${v.shape}], expected [height, width, channels]`)
  return v
}

/** ONNX pads [top, left, bottom, right] for Keras 'same' / 'valid' padding. */
function pads(
  ctx: LayerContext,
  x: Value,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number]
): number[] {
  const padding = ctx.config.padding
  if (padding === 'valid') return [0, 0, 0, 0]
  if (padding !== 'same') throw ctx.fail(`padding "${String(padding)}" (only 'same' and 'valid' are exported)`)
  const [t, b] = samePadding(x.shape[0], kernel[0], strides[0], dilations[0])
  const [l, r] = samePadding(x.shape[1], kernel[1], strides[1], dilations[1])
  return [t, l, b, r]
}

/** Applies a Keras activation by name to `x` (rank 4 NCHW or rank 2: the channel axis is 1 either way). */
export function activation(g: GraphBuilder, x: string, fn: unknown, base: string, fail: (r: string) => Error): string {
  switch (fn ?? 'linear') {
    case 'linear':
      return x
    case 'relu':
      return g.node('Relu', [x], `${base}_relu`)
    case 'relu6':
      return g.node('Clip', [x, g.scalar(0), g.scalar(6)], `${base}_relu6`)
    case 'sigmoid':
      return g.node('Sigmoid', [x], `${base}_sigmoid`)
    case 'softmax':
      return g.node('Softmax', [x], `${base}_softmax`, { axis: { int: 1 } })
    case 'tanh':
      return g.node('Tanh', [x], `${base}_tanh`)
    case 'elu':
      return g.node('Elu', [x], `${base}_elu`, { alpha: { float: 1 } })
    case 'selu':
      return g.node('Selu', [x], `${base}_selu`)
    case 'softplus':
      return g.node('Softplus', [x], `${base}_softplus`)
    case 'softsign':
      return g.node('Softsign', [x], `${base}_softsign`)
    case 'swish':
      return g.node('Mul', [x, g.node('Sigmoid', [x], `${base}_swish_gate`)], `${base}_swish`)
    case 'hardSigmoid':
      return g.node('HardSigmoid', [x], `${base}_hard_sigmoid`, { alpha: { float: 0.2 }, beta: { float: 0.5 } })
    // Exact GELU (tfjs-layers 'gelu', PyTorch's default): x · ½ · (1 + erf(x / √2)).
    case 'gelu':
      return g.node(
        'Mul',
        [
          g.node('Mul', [x, g.scalar(0.5)], `${base}_gelu_half`),
          g.node(
            'Add',
            [
              g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)], `${base}_gelu_scaled`)], `${base}_gelu_erf`),
              g.scalar(1)
            ],
            `${base}_gelu_cdf`
          )
        ],
        `${base}_gelu`
      )
    default:
      throw fail(`activation "${String(fn)}" has no ONNX conversion`)
  }
}

function activate(ctx: LayerContext, x: string): string {
  return activation(ctx.g, x, ctx.config.activation, ctx.name, (r) => ctx.fail(r))
}

function conv(
  ctx: LayerContext,
  x: string,
  w: string,
  b: string | null,
  kernel: [number, number],
  group: number,
  xv: Value,
  base: string
): string {
  const strides = pair(ctx, 'strides', 1)
  const dilations = pair(ctx, 'dilationRate', 1)
  if ((strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1))
    throw ctx.fail('strides and dilation both > 1')
  return ctx.g.node('Conv', b === null ? [x, w] : [x, w, b], base, {
    kernel_shape: { ints: kernel },
    strides: { ints: strides },
    dilations: { ints: dilations },
    pads: { ints: pads(ctx, xv, kernel, strides, dilations) },
    group: { int: group }
  })
}

function bias(ctx: LayerContext): string | null {
  return ctx.config.useBias === false ? null : ctx.weight('bias', 'same')
}

const conv2d: LayerConverter = (ctx) => {
  channelsLast(ctx)
  const x = image(ctx)
  const out = conv(ctx, x.name, ctx.weight('kernel', 'conv'), bias(ctx), pair(ctx, 'kernelSize'), 1, x, ctx.name)
  return activate(ctx, out)
}

const depthwiseConv2d: LayerConverter = (ctx) => {
  channelsLast(ctx)
  const x = image(ctx)
  const out = conv(
    ctx,
    x.name,
    ctx.weight('depthwise_kernel', 'depthwise'),
    bias(ctx),
    pair(ctx, 'kernelSize'),
    x.shape[2],
    x,
    ctx.name
  )
  return activate(ctx, out)
}

const separableConv2d: LayerConverter = (ctx) => {
  channelsLast(ctx)
  const x = image(ctx)
  const kernel = pair(ctx, 'kernelSize')
  const dw = conv(
    ctx,
    x.name,
    ctx.weight('depthwise_kernel', 'depthwise'),
    null,
    kernel,
    x.shape[2],
    x,
    `${ctx.name}_depthwise`
  )
  const pointwise = ctx.weight('pointwise_kernel', 'conv')
  const b = bias(ctx)
  const pw = ctx.g.node('Conv', b === null ? [dw, pointwise] : [dw, pointwise, b], ctx.name, {
    kernel_shape: { ints: [1, 1] }
  })
  return activate(ctx, pw)
}

// Exported as an inference-mode ONNX BatchNormalization node rather than folded into the
// convolution: the file keeps the running statistics as trained, and runtimes fold it anyway.
const batchNormalization: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]
  const axis = ctx.config.axis
  if (axis !== -1 && axis !== x.shape.length)
    throw ctx.fail(`normalises axis ${String(axis)}, only the channel axis (-1) is exported`)
  const channels = x.shape[x.shape.length - 1]
  const gamma =
    ctx.config.scale === false
      ? ctx.g.float(`${ctx.name}/ones`, new Float32Array(channels).fill(1), [channels])
      : ctx.weight('gamma', 'same')
  const beta =
    ctx.config.center === false
      ? ctx.g.float(`${ctx.name}/zeros`, new Float32Array(channels), [channels])
      : ctx.weight('beta', 'same')
  return ctx.g.node(
    'BatchNormalization',
    [x.name, gamma, beta, ctx.weight('moving_mean', 'same'), ctx.weight('moving_variance', 'same')],
    ctx.name,
    {
      epsilon: { float: Number(ctx.config.epsilon ?? 1e-3) }
    }
  )
}

const dense: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]
  if (x.shape.length === 2) {
    // Token sequences (N, T, features), e.g. a ViT's: MatMul over the last axis, then the bias.
    const product = ctx.g.node(
      'MatMul',
      [x.name, ctx.weight('kernel', 'same')],
      ctx.config.useBias === false ? ctx.name : `${ctx.name}_matmul`
    )
    const b = bias(ctx)
    return activate(ctx, b === null ? product : ctx.g.node('Add', [product, b], ctx.name))
  }
  if (x.shape.length !== 1)
    throw ctx.fail(
      `input has shape [${x.shape}]; Dense is exported on flat [features] or [tokens, features] inputs only (add Flatten or global pooling)`
    )
  const kernel = ctx.weight('kernel', 'same')
  const b = bias(ctx)
  const out =
    b === null ? ctx.g.node('MatMul', [x.name, kernel], ctx.name) : ctx.g.node('Gemm', [x.name, kernel, b], ctx.name)
  return activate(ctx, out)
}

function pool(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    channelsLast(ctx)
    const x = image(ctx)
    const kernel = pair(ctx, 'poolSize', 2)
    const strides = pair(ctx, 'strides', kernel)
    // TF averages over the valid (unpadded) cells only: count_include_pad = 0.
    const extra: Record<string, Attr> = op === 'AveragePool' ? { count_include_pad: { int: 0 } } : {}
    return ctx.g.node(op, [x.name], ctx.name, {
      kernel_shape: { ints: kernel },
      strides: { ints: strides },
      pads: { ints: pads(ctx, x, kernel, strides, [1, 1]) },
      ...extra
    })
  }
}

function globalPool(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    channelsLast(ctx)
    if (ctx.config.keepDims === true) throw ctx.fail('keepDims: true')
    const pooled = ctx.g.node(op, [image(ctx).name], `${ctx.name}_nc11`)
    return ctx.g.node('Flatten', [pooled], ctx.name, { axis: { int: 1 } })
  }
}

const flatten: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]
  if (x.shape.length === 1) return x.name
  image(ctx)
  // Keras flattens in channels-last order: go back to NHWC first.
  const nhwc = ctx.g.node('Transpose', [x.name], `${ctx.name}_nhwc`, { perm: { ints: [0, 2, 3, 1] } })
  return ctx.g.node('Flatten', [nhwc], ctx.name, { axis: { int: 1 } })
}

const zeroPadding2d: LayerConverter = (ctx) => {
  channelsLast(ctx)
  const p = ctx.config.padding as [[number, number], [number, number]]
  const x = image(ctx)
  const [[t, b], [l, r]] = p
  return ctx.g.node('Pad', [x.name, ctx.g.int64(`${ctx.name}/pads`, [0, 0, t, l, 0, 0, b, r])], ctx.name, {
    mode: { string: 'constant' }
  })
}

function merge(op: 'Sum' | 'Mul' | 'Max' | 'Min'): LayerConverter {
  return (ctx) => {
    const shapes = ctx.inputs.map((v) => JSON.stringify(v.shape))
    if (new Set(shapes).size !== 1)
      throw ctx.fail(`inputs of different shapes ${shapes.join(', ')} (broadcasting is not exported)`)
    return ctx.g.node(
      op,
      ctx.inputs.map((v) => v.name),
      ctx.name
    )
  }
}

const concatenate: LayerConverter = (ctx) => {
  const rank = ctx.inputs[0].shape.length
  const axis = Number(ctx.config.axis ?? -1)
  const kerasAxis = axis < 0 ? rank + 1 + axis : axis
  // Keras axes count the batch; in the graph images are NCHW, so channels (3) is 1, h (1) is 2, w (2) is 3.
  const onnxAxis = rank === 3 ? [0, 2, 3, 1][kerasAxis] : kerasAxis
  return ctx.g.node(
    'Concat',
    ctx.inputs.map((v) => v.name),
    ctx.name,
    { axis: { int: onnxAxis } }
  )
}

const identity: LayerConverter = (ctx) => ctx.inputs[0].name

// Keras reshapes in channels-last order: images (NCHW in the graph) go to NHWC first and back after.
const reshape: LayerConverter = (ctx) => {
  const x = ctx.inputs[0]
  const target = ctx.config.targetShape as number[]
  if (!Array.isArray(target) || target.some((d) => !Number.isInteger(d) || d < 1))
    throw ctx.fail(`targetShape ${JSON.stringify(target)} (only fixed sizes are exported)`)
  const src =
    x.shape.length === 3
      ? ctx.g.node('Transpose', [x.name], `${ctx.name}_nhwc`, { perm: { ints: [0, 2, 3, 1] } })
      : x.name
  const out = ctx.g.node(
    'Reshape',
    [src, ctx.g.int64(`${ctx.name}/shape`, [0, ...target])],
    target.length === 3 ? `${ctx.name}_nhwc_out` : ctx.name
  )
  return target.length === 3 ? ctx.g.node('Transpose', [out], ctx.name, { perm: { ints: [0, 3, 1, 2] } }) : out
}

const reLU: LayerConverter = (ctx) => {
  const x = ctx.inputs[0].name
  const max = ctx.config.maxValue
  if (max === null || max === undefined) return ctx.g.node('Relu', [x], ctx.name)
  return ctx.g.node('Clip', [x, ctx.g.scalar(0), ctx.g.scalar(Number(max))], ctx.name)
}

const softmax: LayerConverter = (ctx) => {
  const rank = ctx.inputs[0].shape.length
  const axis = Number(ctx.config.axis ?? -1)
  if (axis !== -1 && axis !== rank)
    throw ctx.fail(`softmax over axis ${axis}; only the last (channel / class) axis is exported`)
  return ctx.g.node('Softmax', [ctx.inputs[0].name], ctx.name, { axis: { int: 1 } })
}

const rescaling: LayerConverter = (ctx) => {
  const scaled = ctx.g.node('Mul', [ctx.inputs[0].name, ctx.g.scalar(Number(ctx.config.scale))], `${ctx.name}_scale`)
  return ctx.g.node('Add', [scaled, ctx.g.scalar(Number(ctx.config.offset ?? 0))], ctx.name)
}

/**
 * Every Keras layer class the ONNX exporter converts, by `getClassName()`. Anything else is
 * refused with an error naming the layer and its class.
 */
export const layerConverters: Readonly<Record<string, LayerConverter>> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  BatchNormalization: batchNormalization,
  Dense: dense,
  Activation: (ctx) => activate(ctx, ctx.inputs[0].name),
  ReLU: reLU,
  LeakyReLU: (ctx) =>
    ctx.g.node('LeakyRelu', [ctx.inputs[0].name], ctx.name, { alpha: { float: Number(ctx.config.alpha ?? 0.3) } }),
  ELU: (ctx) => ctx.g.node('Elu', [ctx.inputs[0].name], ctx.name, { alpha: { float: Number(ctx.config.alpha ?? 1) } }),
  Softmax: softmax,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  Flatten: flatten,
  ZeroPadding2D: zeroPadding2d,
  Add: merge('Sum'),
  Multiply: merge('Mul'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  Rescaling: rescaling,
  Dropout: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Reshape: reshape
}
