/**
 * Vision Transformer (Dosovitskiy et al. 2021) in the layout of torchvision's
 * `VisionTransformer` and timm's `VisionTransformer` (DeiT-S = ViT-S/16, Touvron et al. 2021):
 *
 *   patch_embed (conv k = s = patch) → flatten to tokens → class token first → + learned position
 *   embeddings → `layers` pre-norm blocks [x + proj(attn(qkv(ln1 x))), x + fc2(gelu(fc1(ln2 x)))]
 *   → encoder_ln → the class token (`features`) → `head`; gelu is the FFGelu layer after fc1.
 *
 * LayerNorm ε is 1e-6 (torchvision and timm), GELU is the exact erf form (PyTorch's default).
 * Tensor layouts: tokens are (N, tokens, hidden), the class token first; the patch tokens in
 * row-major (row, column) order, as torchvision and timm flatten them. Weights are stored
 * PyTorch-shaped where that costs nothing (`class_token` [1, 1, hidden], `pos_embedding`
 * [1, 1 + tokens, hidden]) and in tfjs's layouts otherwise (conv HWIO, dense (in, out)).
 *
 * An input side that is not a multiple of the patch drops the last pixels (the strided conv
 * covers floor(side / patch) patches), where torchvision refuses the input.
 */
import * as tf from '@tensorflow/tfjs'
import { headLayer, inputLayer, layerSeed } from './layers'
import { FEATURES_LAYER, type ArchBuildOptions, type ArchConfig } from './types'

/** Dimensions of a ViT. */
export interface VitDims {
  /** Patch side, pixels (16 for ViT-S/16). */
  patch: number
  /** Token width (384 for ViT-S, 768 for ViT-B). */
  hidden: number
  /** Encoder blocks (12). */
  layers: number
  /** Attention heads; divides `hidden` (6 for ViT-S, 12 for ViT-B). */
  heads: number
  /** Hidden units of each block's MLP (4 × hidden). */
  mlp: number
}

/** ViT-S/16 = DeiT-S (22 M parameters). */
export const VIT_S16: VitDims = { patch: 16, hidden: 384, layers: 12, heads: 6, mlp: 1536 }
/** ViT-B/16 (86 M parameters). */
export const VIT_B16: VitDims = { patch: 16, hidden: 768, layers: 12, heads: 12, mlp: 3072 }
/** ViT-Ti/16 = DeiT-Ti (5.7 M parameters): the default of the free-form `vit` architecture. */
export const VIT_TI16: VitDims = { patch: 16, hidden: 192, layers: 12, heads: 3, mlp: 768 }

/** LayerNorm epsilon of torchvision's and timm's ViTs. */
export const VIT_LN_EPSILON = 1e-6

function only(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs
}

type Shape = (number | null)[]
function oneShape(s: tf.Shape | tf.Shape[]): Shape {
  return (Array.isArray(s[0]) ? s[0] : s) as Shape
}

interface SeededArgs {
  name?: string
  seed?: number
}

/** Prepends the learned class token to the token sequence: (N, T, h) → (N, 1 + T, h). */
export class ClassToken extends tf.layers.Layer {
  static className = 'FFClassToken'
  private token: tf.LayerVariable | null = null
  constructor(args: SeededArgs = {}) {
    super({ name: args.name })
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const h = oneShape(inputShape).at(-1) as number
    // torchvision initialises the class token to zeros.
    this.token = this.addWeight('class_token', [1, 1, h], 'float32', tf.initializers.zeros())
    this.built = true
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, t, h] = oneShape(inputShape)
    return [n, t === null ? null : t + 1, h]
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = only(inputs)
      const token = (this.token as tf.LayerVariable).read()
      return tf.concat([tf.tile(token, [x.shape[0], 1, 1]), x], 1)
    })
  }
}

/** Adds learned position embeddings (1, 1 + T, h) to the tokens (torchvision: std 0.02 normal init). */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'FFPositionEmbedding'
  private readonly seed: number
  private embedding: tf.LayerVariable | null = null
  constructor(args: SeededArgs = {}) {
    super({ name: args.name })
    this.seed = args.seed ?? 0
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, t, h] = oneShape(inputShape) as number[]
    this.embedding = this.addWeight(
      'pos_embedding',
      [1, t, h],
      'float32',
      tf.initializers.truncatedNormal({ stddev: 0.02, seed: this.seed })
    )
    this.built = true
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return oneShape(inputShape)
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(only(inputs), (this.embedding as tf.LayerVariable).read()))
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed }
  }
}

/**
 * LayerNorm over the last axis: (x − mean) / sqrt(var + ε) · gamma + beta, with the biased
 * variance as PyTorch. Written with plain ops (tfjs's LayerNormalization goes through its
 * BatchNorm kernel with full-size tiles).
 */
export class LayerNorm extends tf.layers.Layer {
  static className = 'FFLayerNorm'
  readonly epsilon: number
  private gamma: tf.LayerVariable | null = null
  private beta: tf.LayerVariable | null = null
  constructor(args: SeededArgs & { epsilon?: number } = {}) {
    super({ name: args.name })
    this.epsilon = args.epsilon ?? VIT_LN_EPSILON
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const h = oneShape(inputShape).at(-1) as number
    this.gamma = this.addWeight('gamma', [h], 'float32', tf.initializers.ones())
    this.beta = this.addWeight('beta', [h], 'float32', tf.initializers.zeros())
    this.built = true
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return oneShape(inputShape)
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = only(inputs)
      const d = tf.sub(x, tf.mean(x, -1, true))
      const inv = tf.rsqrt(tf.add(tf.mean(tf.square(d), -1, true), this.epsilon))
      return tf.add(
        tf.mul(tf.mul(d, inv), (this.gamma as tf.LayerVariable).read()),
        (this.beta as tf.LayerVariable).read()
      )
    })
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon }
  }
}

/**
 * Scaled dot-product multi-head attention on a packed qkv tensor (N, T, 3h) → (N, T, h): q, k and v
 * are the three h-wide thirds, each head a contiguous h / heads slice (PyTorch's
 * `in_proj_weight` and timm's `qkv` order). No weights: the projections are Dense layers.
 */
export class SelfAttention extends tf.layers.Layer {
  static className = 'FFSelfAttention'
  readonly heads: number
  constructor(args: SeededArgs & { heads?: number } = {}) {
    super({ name: args.name })
    this.heads = args.heads ?? 1
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, t, c] = oneShape(inputShape)
    return [n, t, (c as number) / 3]
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = only(inputs)
      const [n, t, c] = x.shape
      const h = c / 3
      const dh = h / this.heads
      const part = (i: number) =>
        tf.transpose(tf.reshape(tf.slice(x, [0, 0, i * h], [n, t, h]), [n, t, this.heads, dh]), [0, 2, 1, 3])
      const q = tf.mul(part(0), 1 / Math.sqrt(dh))
      const scores = tf.softmax(tf.matMul(q, part(1), false, true))
      const o = tf.matMul(scores, part(2))
      return tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [n, t, h])
    })
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), heads: this.heads }
  }
}

const INV_SQRT2 = Math.SQRT1_2
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

/**
 * Exact GELU x · Φ(x), Φ(x) = ½ (1 + erf(x / √2)), with a hand-written gradient
 * Φ(x) + x · φ(x) that keeps only x for the backward pass (tfjs's chain of elementwise ops keeps
 * five tensors of the MLP's width per block).
 */
export const gelu: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
  const t = x as tf.Tensor
  ;(save as (ts: tf.Tensor[]) => void)([t])
  const cdf = (v: tf.Tensor) => tf.mul(tf.add(tf.erf(tf.mul(v, INV_SQRT2)), 1), 0.5)
  return {
    value: tf.tidy(() => tf.mul(t, cdf(t))),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.tidy(() => {
        const [v] = saved
        const pdf = tf.mul(tf.exp(tf.mul(tf.square(v), -0.5)), INV_SQRT_2PI)
        return tf.mul(dy, tf.add(cdf(v), tf.mul(v, pdf)))
      })
  }
}) as (x: tf.Tensor) => tf.Tensor

/** The exact GELU of {@link gelu} as a layer (no weights). */
export class Gelu extends tf.layers.Layer {
  static className = 'FFGelu'
  constructor(args: SeededArgs = {}) {
    super({ name: args.name })
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return oneShape(inputShape)
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return gelu(only(inputs))
  }
}

/** The class token's features: (N, T, h) → (N, h), token 0. */
export class ClassTokenPool extends tf.layers.Layer {
  static className = 'FFClassTokenPool'
  constructor(args: SeededArgs = {}) {
    super({ name: args.name })
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = oneShape(inputShape)
    return [s[0], s[2]]
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = only(inputs)
      const [n, , h] = x.shape as [number, number, number]
      return tf.reshape(tf.slice(x, [0, 0, 0], [n, 1, h]), [n, h])
    })
  }
}

/** The ViT layer classes, registered for tfjs serialization by {@link registerVitLayers}. */
export const VIT_LAYER_CLASSES = [
  ClassToken,
  PositionEmbedding,
  LayerNorm,
  SelfAttention,
  Gelu,
  ClassTokenPool
] as const

let registered = false
/** Registers the ViT layer classes with tfjs serialization (so `tf.loadLayersModel` reads exported ViTs); idempotent. */
export function registerVitLayers(): void {
  if (registered) return
  for (const c of VIT_LAYER_CLASSES) tf.serialization.registerClass(c)
  registered = true
}

/** Patch grid of an input: floor(height / patch) × floor(width / patch). */
export function patchGrid(inputShape: readonly number[], patch: number): [number, number] {
  return [Math.floor(inputShape[0] / patch), Math.floor(inputShape[1] / patch)]
}

/** Resolves the dimensions: `base` overridden by `o.vit`; checks they are consistent. */
export function vitDims(o: Pick<ArchBuildOptions, 'vit' | 'inputShape'>, base: VitDims): VitDims {
  const v = o.vit ?? {}
  const d: VitDims = {
    patch: v.patch ?? base.patch,
    hidden: v.hidden ?? base.hidden,
    layers: v.layers ?? base.layers,
    heads: v.heads ?? base.heads,
    mlp: v.mlp ?? base.mlp
  }
  for (const k of ['patch', 'hidden', 'layers', 'heads', 'mlp'] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 1)
      throw new Error(`ViT option ${k} must be a positive integer (got ${String(d[k])})`)
  }
  if (d.hidden % d.heads !== 0)
    throw new Error(`ViT hidden width ${d.hidden} is not a multiple of its ${d.heads} heads`)
  const [gh, gw] = patchGrid(o.inputShape, d.patch)
  if (gh < 1 || gw < 1)
    throw new Error(`ViT input ${o.inputShape[0]}×${o.inputShape[1]} px is smaller than one ${d.patch} px patch`)
  return d
}

/** Builds a ViT of dimensions `d` (see the file header for the layer names). */
export function buildVit(name: string, o: ArchBuildOptions, d: VitDims): tf.LayersModel {
  registerVitLayers()
  const { seed } = o
  const [gh, gw] = patchGrid(o.inputShape, d.patch)
  const input = inputLayer(o.inputShape)
  const glorot = (n: string) => tf.initializers.glorotUniform({ seed: layerSeed(seed, n) })
  const dense = (n: string, units: number) =>
    tf.layers.dense({ name: n, units, kernelInitializer: glorot(n), biasInitializer: 'zeros' })
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
    layer.apply(x) as tf.SymbolicTensor

  // torchvision: conv_proj ~ truncated normal with std sqrt(1 / fan_in).
  const fanIn = d.patch * d.patch * o.inputShape[2]
  let x = apply(
    tf.layers.conv2d({
      name: 'patch_embed',
      filters: d.hidden,
      kernelSize: d.patch,
      strides: d.patch,
      padding: 'valid',
      useBias: true,
      kernelInitializer: tf.initializers.truncatedNormal({
        stddev: Math.sqrt(1 / fanIn),
        seed: layerSeed(seed, 'patch_embed')
      })
    }),
    input
  )
  x = apply(tf.layers.reshape({ name: 'patch_tokens', targetShape: [gh * gw, d.hidden] }), x)
  x = apply(new ClassToken({ name: 'class_token' }), x)
  x = apply(new PositionEmbedding({ name: 'pos_embed', seed: layerSeed(seed, 'pos_embed') }), x)
  for (let i = 0; i < d.layers; i++) {
    const b = `block${i}`
    let y = apply(new LayerNorm({ name: `${b}_ln1` }), x)
    y = apply(dense(`${b}_qkv`, 3 * d.hidden), y)
    y = apply(new SelfAttention({ name: `${b}_attn`, heads: d.heads }), y)
    y = apply(dense(`${b}_proj`, d.hidden), y)
    x = apply(tf.layers.add({ name: `${b}_add1` }), [x, y])
    y = apply(new LayerNorm({ name: `${b}_ln2` }), x)
    y = apply(dense(`${b}_fc1`, d.mlp), y)
    y = apply(new Gelu({ name: `${b}_gelu` }), y)
    y = apply(dense(`${b}_fc2`, d.hidden), y)
    x = apply(tf.layers.add({ name: `${b}_add2` }), [x, y])
  }
  x = apply(new LayerNorm({ name: 'encoder_ln' }), x)
  const features = apply(new ClassTokenPool({ name: FEATURES_LAYER }), x)
  return tf.model({ name, inputs: input, outputs: apply(headLayer(o.numClasses, seed), features) })
}

function vitArch(name: string, description: string, base: VitDims, free: boolean): ArchConfig {
  return {
    name,
    description,
    minSize: base.patch,
    build(o) {
      if (!free && o.vit !== undefined) {
        const fixed = (Object.keys(o.vit) as (keyof VitDims)[]).filter(
          (k) => o.vit?.[k] !== undefined && o.vit[k] !== base[k]
        )
        if (fixed.length > 0)
          throw new Error(`architecture ${name} has fixed dimensions; use "vit" to change ${fixed.join(', ')}`)
      }
      return buildVit(name, o, vitDims(o, base))
    }
  }
}

/** DeiT-S / ViT-S/16: hidden 384, 12 blocks, 6 heads, MLP 1536 (the paper's second network). */
export const deitS16 = vitArch(
  'deit_s16',
  'DeiT-S = ViT-S/16 (22 M parameters at 224 px): patch 16, 384 wide, 12 blocks, 6 heads',
  VIT_S16,
  false
)
/** ViT-B/16: hidden 768, 12 blocks, 12 heads, MLP 3072. */
export const vitB16 = vitArch(
  'vit_b16',
  'ViT-B/16 (86 M parameters at 224 px): patch 16, 768 wide, 12 blocks, 12 heads',
  VIT_B16,
  false
)
/** A ViT of any dimensions (`vit` build option); ViT-Ti/16 by default. */
export const vit = vitArch(
  'vit',
  'Vision Transformer of chosen dimensions (option vit: patch, hidden, layers, heads, mlp); ViT-Ti/16 by default',
  VIT_TI16,
  true
)
