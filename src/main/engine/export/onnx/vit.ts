/**
 * ONNX conversions of the ViT layers (models/vit.ts), opset 13: tokens are (N, T, h) in the graph
 * as in TF.js (no layout change). LayerNorm is decomposed (ONNX's LayerNormalization is opset 17);
 * attention is Slice → Reshape → Transpose → MatMul → Softmax → MatMul; the class token is
 * broadcast over the batch with Shape → Slice → Concat → Expand.
 */
import type { LayerContext, LayerConverter } from './layers'

function tokens(ctx: LayerContext): { name: string; t: number; h: number } {
  const x = ctx.inputs[0]
  if (x.shape.length !== 2) throw ctx.fail(`input has shape [${x.shape}], expected [tokens, width]`)
  return { name: x.name, t: x.shape[0], h: x.shape[1] }
}

const classToken: LayerConverter = (ctx) => {
  const { name: x, h } = tokens(ctx)
  const g = ctx.g
  const n = g.node(
    'Slice',
    [g.node('Shape', [x], `${ctx.name}_shape`), g.int64(`${ctx.name}/start`, [0]), g.int64(`${ctx.name}/end`, [1])],
    `${ctx.name}_batch`
  )
  const shape = g.node('Concat', [n, g.int64(`${ctx.name}/token_shape`, [1, h])], `${ctx.name}_target`, {
    axis: { int: 0 }
  })
  const token = g.node('Expand', [ctx.weight('class_token', 'same'), shape], `${ctx.name}_expand`)
  return g.node('Concat', [token, x], ctx.name, { axis: { int: 1 } })
}

const positionEmbedding: LayerConverter = (ctx) =>
  ctx.g.node('Add', [tokens(ctx).name, ctx.weight('pos_embedding', 'same')], ctx.name)

const layerNorm: LayerConverter = (ctx) => {
  const x = ctx.inputs[0].name
  const g = ctx.g
  const b = ctx.name
  const mean = g.node('ReduceMean', [x], `${b}_mean`, { axes: { ints: [-1] }, keepdims: { int: 1 } })
  const d = g.node('Sub', [x, mean], `${b}_centred`)
  const variance = g.node('ReduceMean', [g.node('Mul', [d, d], `${b}_sq`)], `${b}_var`, {
    axes: { ints: [-1] },
    keepdims: { int: 1 }
  })
  const std = g.node(
    'Sqrt',
    [g.node('Add', [variance, g.scalar(Number(ctx.config.epsilon))], `${b}_var_eps`)],
    `${b}_std`
  )
  const normed = g.node('Div', [d, std], `${b}_normed`)
  return g.node(
    'Add',
    [g.node('Mul', [normed, ctx.weight('gamma', 'same')], `${b}_scaled`), ctx.weight('beta', 'same')],
    b
  )
}

const selfAttention: LayerConverter = (ctx) => {
  const { name: x, t, h: c } = tokens(ctx)
  const heads = Number(ctx.config.heads)
  const h = c / 3
  if (!Number.isInteger(h) || !Number.isInteger(h / heads))
    throw ctx.fail(`width ${c} is not 3 × a multiple of ${heads} heads`)
  const dh = h / heads
  const g = ctx.g
  const b = ctx.name
  const perHead = g.int64(`${b}/per_head`, [0, t, heads, dh])
  const part = (i: number, perm: number[], tag: string) => {
    const s = g.node(
      'Slice',
      [
        x,
        g.int64(`${b}/${tag}_start`, [i * h]),
        g.int64(`${b}/${tag}_end`, [(i + 1) * h]),
        g.int64(`${b}/${tag}_axis`, [2])
      ],
      `${b}_${tag}`
    )
    return g.node('Transpose', [g.node('Reshape', [s, perHead], `${b}_${tag}_heads`)], `${b}_${tag}_t`, {
      perm: { ints: perm }
    })
  }
  const q = g.node('Mul', [part(0, [0, 2, 1, 3], 'q'), g.scalar(1 / Math.sqrt(dh))], `${b}_q_scaled`)
  const kT = part(1, [0, 2, 3, 1], 'k')
  const v = part(2, [0, 2, 1, 3], 'v')
  const weights = g.node('Softmax', [g.node('MatMul', [q, kT], `${b}_scores`)], `${b}_softmax`, { axis: { int: -1 } })
  const o = g.node('Transpose', [g.node('MatMul', [weights, v], `${b}_context`)], `${b}_context_t`, {
    perm: { ints: [0, 2, 1, 3] }
  })
  return g.node('Reshape', [o, g.int64(`${b}/merged`, [0, t, h])], b)
}

const classTokenPool: LayerConverter = (ctx) => {
  const { name: x, h } = tokens(ctx)
  const g = ctx.g
  const first = g.node(
    'Slice',
    [x, g.int64(`${ctx.name}/start`, [0]), g.int64(`${ctx.name}/end`, [1]), g.int64(`${ctx.name}/axis`, [1])],
    `${ctx.name}_first`
  )
  return g.node('Reshape', [first, g.int64(`${ctx.name}/shape`, [0, h])], ctx.name)
}

// Exact GELU: x · ½ · (1 + erf(x / √2)) (the same nodes as the 'gelu' activation in layers.ts).
const gelu: LayerConverter = (ctx) => {
  const { g, name } = ctx
  const x = ctx.inputs[0].name
  const cdf = g.node(
    'Add',
    [g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)], `${name}_scaled`)], `${name}_erf`), g.scalar(1)],
    `${name}_cdf`
  )
  return g.node('Mul', [g.node('Mul', [x, g.scalar(0.5)], `${name}_half`), cdf], name)
}

/** Converters of the ViT layer classes, by class name. */
export const vitLayerConverters: Readonly<Record<string, LayerConverter>> = {
  FFClassToken: classToken,
  FFPositionEmbedding: positionEmbedding,
  FFLayerNorm: layerNorm,
  FFSelfAttention: selfAttention,
  FFGelu: gelu,
  FFClassTokenPool: classTokenPool
}
