/**
 * Building blocks shared by the architectures: seeded initializers, conv + BN + activation,
 * and the head. BatchNorm uses PyTorch's settings (momentum 0.1 ⇔ Keras 0.9, ε 1e-5) so that
 * recipes from the reference implementation transfer.
 */
import * as tf from '@tensorflow/tfjs'
import { FF_BN_RELU } from '../compute/kernels/batchnorm_grad'
import { FEATURES_LAYER, HEAD_LAYER } from './types'

/** A per-layer seed derived from the model seed and the layer name (FNV-1a), so layers of equal shape differ. */
export function layerSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h
}

/** Options for {@link convBn}. */
export interface ConvBnOptions {
  filters: number
  kernel: number
  strides?: number
  /** Depthwise convolution (MobileNetV2); `filters` is then ignored. */
  depthwise?: boolean
  /** Activation after BN: relu, relu6 or none. */
  activation?: 'relu' | 'relu6' | 'none'
}

type LayerArgs<F> = F extends (args: infer A) => tf.layers.Layer ? A : never

/**
 * A layer factory for a variant of the tfjs-layers layer `factory` makes: a subclass of its class
 * (found from a probe instance, built once: tfjs does not export its layer classes) whose call is
 * `call`, given the layer, its first input and tfjs-layers' own call to fall back on. It keeps the
 * class name, weights and config, so serialisation and export see tfjs-layers' own layer.
 */
function layerVariant<F extends (args: never) => tf.layers.Layer>(
  factory: F,
  probe: LayerArgs<F>,
  className: string,
  call: (
    layer: tf.layers.Layer,
    x: tf.Tensor,
    kwargs: Record<string, unknown>,
    own: () => tf.Tensor | tf.Tensor[]
  ) => tf.Tensor | tf.Tensor[]
): (args: LayerArgs<F>) => tf.layers.Layer {
  type Variant = new (args: LayerArgs<F>) => tf.layers.Layer
  let variant: Variant | undefined
  return (args) => {
    if (variant === undefined) {
      const Base = Object.getPrototypeOf(factory(probe as never)).constructor as Variant
      variant = class extends Base {
        static className = className
        override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
          return call(this, Array.isArray(inputs) ? inputs[0] : inputs, kwargs, () => super.call(inputs, kwargs))
        }
      }
    }
    return new variant(args)
  }
}

/** The fields of tfjs-layers' Conv2D that {@link plainConv2d} reads. */
interface Conv2DFields {
  kernel: tf.LayerVariable
  bias: tf.LayerVariable | null
  strides: [number, number]
  padding: 'same' | 'valid'
  dataFormat: string
  dilationRate: [number, number]
  activation: { getClassName(): string }
}

/**
 * tf.layers.conv2d whose call, without a bias or an activation (every convBn convolution), is
 * the plain tf.conv2d. tfjs-layers runs tf.fused.conv2d, whose gradient computes the input's
 * gradient eagerly even where nothing uses it: the stem's, whose input is the image (ResNet-50
 * at 224 px: ~40 ms of every 4-image pass). tf.conv2d's gradient computes only what the tape
 * needs. Same function, weights, config and class name ('Conv2D').
 */
export const plainConv2d = layerVariant(
  tf.layers.conv2d,
  { filters: 1, kernelSize: 1, name: 'plain_conv2d_probe' },
  'Conv2D',
  (layer, x, _kwargs, own) => {
    const f = layer as unknown as Conv2DFields
    const plain =
      f.bias == null &&
      f.activation.getClassName().toLowerCase() === 'linear' &&
      f.dataFormat === 'channelsLast' &&
      x.rank === 4
    if (!plain) return own()
    return tf.tidy(() =>
      tf.conv2d(x as tf.Tensor4D, f.kernel.read() as tf.Tensor4D, f.strides, f.padding, 'NHWC', f.dilationRate)
    )
  }
)

/** The fields of tfjs-layers' BatchNormalization that {@link reluBatchNorm} reads. */
interface BatchNormFields {
  movingMean: tf.LayerVariable
  movingVariance: tf.LayerVariable
  beta?: tf.LayerVariable | null
  gamma?: tf.LayerVariable | null
  epsilon: number
  axis: number
}

// Outputs of reluBatchNorm layers that are already rectified (their ReLU layer passes them on).
const rectified = new WeakSet<tf.Tensor>()

/**
 * A BatchNormalization layer for a BatchNorm that a ReLU follows ({@link passReLU}): in inference,
 * where the backend has the fused kernel (wasm + native) and no gradient is being taken, it
 * applies the ReLU in the same pass (ResNets at batch 32 and 224 px: two passes over ~100 MB
 * activations become one) and marks its output, which the following ReLU layer then passes on
 * without another pass. Training, other backends and gradients run tfjs-layers' own call. Same
 * weights, config and class name ('BatchNormalization'). Only for a BatchNorm whose sole
 * consumer is that ReLU (convBn).
 */
const reluBatchNorm = layerVariant(
  tf.layers.batchNormalization,
  { name: 'relu_bn_probe' },
  'BatchNormalization',
  (layer, x, kwargs, own) => {
    const f = layer as unknown as BatchNormFields
    const fused =
      kwargs.training !== true &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      (f.axis === -1 || f.axis === 3) &&
      tf.engine().state.gradientDepth === 0 &&
      tf.getKernel(FF_BN_RELU, tf.getBackend()) != null
    if (!fused) return own()
    const ins: Record<string, tf.Tensor> = { x, mean: f.movingMean.read(), variance: f.movingVariance.read() }
    if (f.beta) ins.offset = f.beta.read()
    if (f.gamma) ins.scale = f.gamma.read()
    const y = tf.engine().runKernel(FF_BN_RELU, ins, { varianceEpsilon: f.epsilon }) as tf.Tensor
    rectified.add(y)
    return y
  }
)

/** tf.layers.reLU that passes on (without a pass over it) an input {@link reluBatchNorm} already rectified. */
const passReLU = layerVariant(tf.layers.reLU, { name: 'pass_relu_probe' }, 'ReLU', (layer, x, _kwargs, own) =>
  rectified.has(x) && (layer as unknown as { maxValue?: number | null }).maxValue == null ? tf.clone(x) : own()
)

/** conv (no bias) → BatchNorm → activation, with layers named `<name>_conv`, `<name>_bn`, `<name>_act`. */
export function convBn(x: tf.SymbolicTensor, name: string, seed: number, o: ConvBnOptions): tf.SymbolicTensor {
  const strides = o.strides ?? 1
  // A strided conv pads symmetrically as PyTorch does (k // 2 each side): TF's 'same' puts the
  // extra row / column at the bottom / right, which would shift every pretrained filter by a pixel.
  const explicit = strides > 1 && o.kernel > 1
  if (explicit) x = symmetricPad(x, `${name}_pad`, Math.floor(o.kernel / 2))
  const common = {
    kernelSize: o.kernel,
    strides,
    padding: explicit ? ('valid' as const) : ('same' as const),
    useBias: false
  }
  const conv = o.depthwise
    ? tf.layers.depthwiseConv2d({
        ...common,
        name: `${name}_conv`,
        depthwiseInitializer: tf.initializers.heNormal({ seed: layerSeed(seed, name) })
      })
    : plainConv2d({
        ...common,
        name: `${name}_conv`,
        filters: o.filters,
        kernelInitializer: tf.initializers.heNormal({ seed: layerSeed(seed, name) })
      })
  let y = conv.apply(x) as tf.SymbolicTensor
  const act = o.activation ?? 'relu'
  const bn = { name: `${name}_bn`, momentum: 0.9, epsilon: 1e-5 }
  y = (act === 'relu' ? reluBatchNorm(bn) : tf.layers.batchNormalization(bn)).apply(y) as tf.SymbolicTensor
  if (act === 'relu') y = passReLU({ name: `${name}_act` }).apply(y) as tf.SymbolicTensor
  if (act === 'relu6') y = tf.layers.reLU({ name: `${name}_act`, maxValue: 6 }).apply(y) as tf.SymbolicTensor
  return y
}

/** Zero padding of `p` pixels on every side (a layer without weights, named `name`). */
export function symmetricPad(x: tf.SymbolicTensor, name: string, p: number): tf.SymbolicTensor {
  return tf.layers
    .zeroPadding2d({
      name,
      padding: [
        [p, p],
        [p, p]
      ]
    })
    .apply(x) as tf.SymbolicTensor
}

/** Global average pool (named {@link FEATURES_LAYER}) → Dense head of logits (named {@link HEAD_LAYER}). */
export function poolAndHead(x: tf.SymbolicTensor, numClasses: number, seed: number): tf.SymbolicTensor {
  const f = tf.layers.globalAveragePooling2d({ name: FEATURES_LAYER }).apply(x) as tf.SymbolicTensor
  return headLayer(numClasses, seed).apply(f) as tf.SymbolicTensor
}

/** A fresh head: Dense with PyTorch's default init (uniform ±1/√fan_in), logits out. */
export function headLayer(numClasses: number, seed: number): tf.layers.Layer {
  const init = (s: number) =>
    tf.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: s })
  return tf.layers.dense({
    name: HEAD_LAYER,
    units: numClasses,
    kernelInitializer: init(layerSeed(seed, 'head/kernel')),
    // Keras fan-in of a bias vector is its length, not the layer's fan-in; zeros is the safe choice.
    biasInitializer: 'zeros'
  })
}

/** Model input named `input`. */
export function inputLayer(shape: [number, number, number]): tf.SymbolicTensor {
  return tf.input({ shape, name: 'input' })
}
