/**
 * PyTorch ViT weights → the engine's `vit` / `deit_s16` / `vit_b16` weights (models/vit.ts).
 *
 * Two naming conventions are recognised:
 * - torchvision `VisionTransformer`: conv_proj, class_token, encoder.pos_embedding,
 *   encoder.layers.encoder_layer_N.{ln_1, self_attention.in_proj_weight / in_proj_bias,
 *   self_attention.out_proj, ln_2, mlp.0 / mlp.3 (or mlp.linear_1 / mlp.linear_2)}, encoder.ln, heads.head;
 * - timm `VisionTransformer` (DeiT included): patch_embed.proj, cls_token, pos_embed,
 *   blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head.
 *
 * Layouts: conv OIHW → HWIO, linear (out, in) → (in, out); LayerNorm weight / bias → gamma / beta;
 * class token and position embeddings keep PyTorch's (1, 1, h) and (1, 1 + T, h). The number of
 * heads is not stored in a state dict: it is hidden / 64 (every published ViT / DeiT: Ti 3, S 6,
 * B 12, L 16) unless given. Position embeddings are resized by {@link resizePosEmbedding}
 * (bicubic, torchvision's `interpolate_embeddings` convention) when a model is built for another
 * input size.
 *
 * Pure array code: no tensors.
 */
import type * as tf from '@tensorflow/tfjs'
import type { NamedWeight } from './checkpoint'
import { permute } from '../export/onnx/layout'
import type { ArchBuildOptions } from './types'
import { VIT_B16, VIT_S16, type VitDims } from './vit'

/** A PyTorch tensor by name, float32, PyTorch's shape. */
export interface TorchTensor {
  shape: number[]
  data: Float32Array
}

/** What {@link vitFromTorch} found: the engine architecture, its build options and weights, and per source tensor what happened. */
export interface VitImport {
  /** `deit_s16`, `vit_b16` (when the dimensions are exactly those) or `vit`. */
  arch: string
  /** inputShape (pretrained size: patch × grid, channels of the patch conv), numClasses (head rows) and `vit` dimensions. */
  build: Partial<ArchBuildOptions>
  weights: NamedWeight[]
  report: {
    /** Source tensors copied as they are. */
    matched: string[]
    /** Source tensors transposed or permuted to the engine's layout. */
    reshaped: string[]
    /** Source tensors not used (with why, after a colon). */
    skipped: string[]
  }
}

/** Options of {@link vitFromTorch}. */
export interface VitFromTorchOptions {
  /** Attention heads; default hidden / 64 (the convention of every published ViT). */
  heads?: number
}

/** Each tensor outside the blocks: its [torchvision, timm] name. */
const TOP_NAMES = {
  patchW: ['conv_proj.weight', 'patch_embed.proj.weight'],
  patchB: ['conv_proj.bias', 'patch_embed.proj.bias'],
  cls: ['class_token', 'cls_token'],
  pos: ['encoder.pos_embedding', 'pos_embed'],
  lnW: ['encoder.ln.weight', 'norm.weight'],
  lnB: ['encoder.ln.bias', 'norm.bias'],
  headW: ['heads.head.weight', 'head.weight'],
  headB: ['heads.head.bias', 'head.bias']
} satisfies Record<string, [string, string]>

/** Each tensor of an encoder block: its [torchvision, timm] name after the block's prefix (the MLP's: every name a version used). */
const BLOCK_NAMES = {
  ln1w: ['ln_1.weight', 'norm1.weight'],
  ln1b: ['ln_1.bias', 'norm1.bias'],
  qkvW: ['self_attention.in_proj_weight', 'attn.qkv.weight'],
  qkvB: ['self_attention.in_proj_bias', 'attn.qkv.bias'],
  projW: ['self_attention.out_proj.weight', 'attn.proj.weight'],
  projB: ['self_attention.out_proj.bias', 'attn.proj.bias'],
  ln2w: ['ln_2.weight', 'norm2.weight'],
  ln2b: ['ln_2.bias', 'norm2.bias'],
  fc1W: [['mlp.0.weight', 'mlp.linear_1.weight'], ['mlp.fc1.weight']],
  fc1B: [['mlp.0.bias', 'mlp.linear_1.bias'], ['mlp.fc1.bias']],
  fc2W: [['mlp.3.weight', 'mlp.linear_2.weight'], ['mlp.fc2.weight']],
  fc2B: [['mlp.3.bias', 'mlp.linear_2.bias'], ['mlp.fc2.bias']]
} satisfies Record<string, [string, string] | [string[], string[]]>

/** One column of a [torchvision, timm] table. */
type Column<T extends Record<string, [unknown, unknown]>> = { [R in keyof T]: T[R][0] }

/** The tensor names of one convention. */
interface Names extends Column<typeof TOP_NAMES> {
  block: (i: number) => Column<typeof BLOCK_NAMES>
  /** Prefix of block i's tensors. */
  blockPrefix: (i: number) => string
  blockPattern: RegExp
}

/** Column `k` of `table`, each name after `prefix`. */
function column<T extends Record<string, [string, string] | [string[], string[]]>>(
  table: T,
  k: 0 | 1,
  prefix = ''
): Column<T> {
  const named = (n: string | string[]) => (typeof n === 'string' ? prefix + n : n.map((m) => prefix + m))
  return Object.fromEntries(Object.entries(table).map(([role, names]) => [role, named(names[k])])) as Column<T>
}

/** The names of convention `k`, blocks named `blockPrefix(i)` + the block's names. */
function convention(k: 0 | 1, blockPrefix: (i: number) => string, blockPattern: RegExp): Names {
  return { ...column(TOP_NAMES, k), block: (i) => column(BLOCK_NAMES, k, blockPrefix(i)), blockPrefix, blockPattern }
}

const TORCHVISION = convention(
  0,
  (i) => `encoder.layers.encoder_layer_${i}.`,
  /^encoder\.layers\.encoder_layer_(\d+)\./
)
const TIMM = convention(1, (i) => `blocks.${i}.`, /^blocks\.(\d+)\./)

/** Tensors no engine ViT has: present → a clear refusal rather than a network that computes something else. */
const UNSUPPORTED: [RegExp, string][] = [
  [
    /^(dist_token|head_dist\.)/,
    'a distilled DeiT (second "distillation" token and head); use the non-distilled DeiT weights'
  ],
  [/^heads\.pre_logits\./, 'a pre-logits layer (representation_size); not part of DeiT-S / ViT-B'],
  [/^fc_norm\./, 'average-pooled tokens (timm global_pool="avg"); the engine classifies the class token'],
  [/\.ls[12]\.gamma$/, 'LayerScale (timm init_values); not part of DeiT-S / ViT-B'],
  [/^reg_token$/, 'register tokens'],
  [/^conv_proj\.conv_/, 'a convolutional stem (conv_stem_configs)']
]

/** An error naming the tensor and what is wrong. */
export class VitImportError extends Error {
  override name = 'VitImportError'
}

function transpose2d(t: TorchTensor): Float32Array {
  return permute(t.data, t.shape, [1, 0])
}

/**
 * Maps PyTorch-named ViT tensors onto the engine's ViT. Returns null when the tensors are not a
 * ViT's (no patch embedding / position embedding of either convention); throws a
 * {@link VitImportError} naming the first tensor that does not fit.
 */
export function vitFromTorch(
  tensors: ReadonlyMap<string, TorchTensor>,
  options: VitFromTorchOptions = {}
): VitImport | null {
  const names =
    tensors.has(TORCHVISION.patchW) && tensors.has(TORCHVISION.pos)
      ? TORCHVISION
      : tensors.has(TIMM.patchW) && tensors.has(TIMM.pos)
        ? TIMM
        : null
  if (names === null) return null
  for (const name of tensors.keys()) {
    for (const [re, what] of UNSUPPORTED) if (re.test(name)) throw new VitImportError(`tensor ${name}: ${what}`)
  }
  const used = new Set<string>()
  const report: VitImport['report'] = { matched: [], reshaped: [], skipped: [] }
  const weights: NamedWeight[] = []
  const get = (candidates: string | string[], shape: number[]): { name: string; t: TorchTensor } => {
    const list = typeof candidates === 'string' ? [candidates] : candidates
    const name = list.find((n) => tensors.has(n))
    if (name === undefined) throw new VitImportError(`tensor ${list[0]} is missing`)
    const t = tensors.get(name) as TorchTensor
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new VitImportError(`tensor ${name} has shape [${t.shape}], expected [${shape}]`)
    }
    if (t.data.length !== shape.reduce((a, b) => a * b, 1))
      throw new VitImportError(`tensor ${name} holds ${t.data.length} values for shape [${shape}]`)
    used.add(name)
    return { name, t }
  }
  const same = (engineName: string, src: string | string[], shape: number[]) => {
    const { name, t } = get(src, shape)
    weights.push({ name: engineName, shape, kind: 'trainable', data: Float32Array.from(t.data) })
    report.matched.push(name)
  }
  const linear = (engineName: string, src: string | string[], out: number, inp: number) => {
    const { name, t } = get(src, [out, inp])
    weights.push({ name: engineName, shape: [inp, out], kind: 'trainable', data: transpose2d(t) })
    report.reshaped.push(name)
  }

  // Dimensions from the shapes.
  const pw = tensors.get(names.patchW) as TorchTensor
  if (pw.shape.length !== 4 || pw.shape[2] !== pw.shape[3])
    throw new VitImportError(
      `tensor ${names.patchW} has shape [${pw.shape}], expected [hidden, channels, patch, patch]`
    )
  const [hidden, channels, patch] = pw.shape
  const pos = tensors.get(names.pos) as TorchTensor
  if (pos.shape.length !== 3 || pos.shape[0] !== 1 || pos.shape[2] !== hidden)
    throw new VitImportError(`tensor ${names.pos} has shape [${pos.shape}], expected [1, 1 + tokens, ${hidden}]`)
  const grid = Math.round(Math.sqrt(pos.shape[1] - 1))
  if (grid * grid !== pos.shape[1] - 1)
    throw new VitImportError(
      `tensor ${names.pos} has ${pos.shape[1]} positions: not a class token plus a square grid of patches`
    )
  let layers = 0
  for (const name of tensors.keys()) {
    const m = names.blockPattern.exec(name)
    if (m) layers = Math.max(layers, Number(m[1]) + 1)
  }
  if (layers === 0) throw new VitImportError(`no encoder blocks (${names.blockPrefix(0)}*) found`)
  const fc1 = names
    .block(0)
    .fc1W.map((n) => tensors.get(n))
    .find((t) => t !== undefined)
  if (!fc1) throw new VitImportError(`tensor ${names.block(0).fc1W[0]} is missing`)
  const mlp = fc1.shape[0]
  const heads = options.heads ?? (hidden % 64 === 0 ? hidden / 64 : 0)
  if (!Number.isInteger(heads) || heads < 1 || hidden % heads !== 0) {
    throw new VitImportError(
      `hidden width ${hidden} is not a multiple of 64: give the number of attention heads (it is not stored in the weights)`
    )
  }
  const head = tensors.get(names.headW)
  if (!head) throw new VitImportError(`tensor ${names.headW} is missing (the classification head is kept on import)`)
  const classes = head.shape[0]

  // Patch conv OIHW → HWIO.
  get(names.patchW, [hidden, channels, patch, patch])
  weights.push({
    name: 'patch_embed/kernel',
    shape: [patch, patch, channels, hidden],
    kind: 'trainable',
    data: permute(pw.data, pw.shape, [2, 3, 1, 0])
  })
  report.reshaped.push(names.patchW)
  same('patch_embed/bias', names.patchB, [hidden])
  same('class_token/class_token', names.cls, [1, 1, hidden])
  same('pos_embed/pos_embedding', names.pos, [1, 1 + grid * grid, hidden])
  for (let i = 0; i < layers; i++) {
    const b = names.block(i)
    const e = `block${i}`
    same(`${e}_ln1/gamma`, b.ln1w, [hidden])
    same(`${e}_ln1/beta`, b.ln1b, [hidden])
    linear(`${e}_qkv/kernel`, b.qkvW, 3 * hidden, hidden)
    same(`${e}_qkv/bias`, b.qkvB, [3 * hidden])
    linear(`${e}_proj/kernel`, b.projW, hidden, hidden)
    same(`${e}_proj/bias`, b.projB, [hidden])
    same(`${e}_ln2/gamma`, b.ln2w, [hidden])
    same(`${e}_ln2/beta`, b.ln2b, [hidden])
    linear(`${e}_fc1/kernel`, b.fc1W, mlp, hidden)
    same(`${e}_fc1/bias`, b.fc1B, [mlp])
    linear(`${e}_fc2/kernel`, b.fc2W, hidden, mlp)
    same(`${e}_fc2/bias`, b.fc2B, [hidden])
  }
  same('encoder_ln/gamma', names.lnW, [hidden])
  same('encoder_ln/beta', names.lnB, [hidden])
  linear('head/kernel', names.headW, classes, hidden)
  same('head/bias', names.headB, [classes])
  for (const name of tensors.keys()) if (!used.has(name)) report.skipped.push(`${name}: not part of the network`)
  const dims: VitDims = { patch, hidden, layers, heads, mlp }
  const eq = (a: VitDims, b: VitDims) =>
    a.patch === b.patch && a.hidden === b.hidden && a.layers === b.layers && a.heads === b.heads && a.mlp === b.mlp
  const arch = eq(dims, VIT_S16) ? 'deit_s16' : eq(dims, VIT_B16) ? 'vit_b16' : 'vit'
  return {
    arch,
    build: {
      inputShape: [grid * patch, grid * patch, channels],
      numClasses: classes,
      ...(arch === 'vit' ? { vit: dims } : {})
    },
    weights,
    report
  }
}

/**
 * Bicubic interpolation of an image (C, H, W) to (C, outH, outW) exactly as PyTorch's
 * `F.interpolate(mode="bicubic")` (cubic convolution with A = −0.75, edge samples clamped).
 * @param alignCorners true: torchvision's `interpolate_embeddings`; false: timm's `resample_abs_pos_embed` (without antialias)
 */
export function bicubicResize(
  data: Float32Array,
  c: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  alignCorners: boolean
): Float32Array {
  const A = -0.75
  const cubic1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1
  const cubic2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
  const coeffs = (t: number) => [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)]
  const source = (dst: number, inSize: number, outSize: number) => {
    if (alignCorners) return outSize > 1 ? (dst * (inSize - 1)) / (outSize - 1) : 0
    return (dst + 0.5) * (inSize / outSize) - 0.5
  }
  const axis = (inSize: number, outSize: number) =>
    Array.from({ length: outSize }, (_, o) => {
      const real = source(o, inSize, outSize)
      const i0 = Math.floor(real)
      const wts = coeffs(real - i0)
      const idx = [-1, 0, 1, 2].map((k) => Math.min(Math.max(i0 + k, 0), inSize - 1))
      return { idx, wts }
    })
  const ys = axis(h, outH)
  const xs = axis(w, outW)
  const out = new Float32Array(c * outH * outW)
  for (let ch = 0; ch < c; ch++) {
    const base = ch * h * w
    for (let oy = 0; oy < outH; oy++) {
      const { idx: yi, wts: yw } = ys[oy]
      for (let ox = 0; ox < outW; ox++) {
        const { idx: xi, wts: xw } = xs[ox]
        let acc = 0
        for (let a = 0; a < 4; a++) {
          const row = base + yi[a] * w
          let r = 0
          for (let b = 0; b < 4; b++) r += xw[b] * data[row + xi[b]]
          acc += yw[a] * r
        }
        out[(ch * outH + oy) * outW + ox] = acc
      }
    }
  }
  return out
}

/**
 * Position embeddings (1, 1 + gh·gw, h) resized to another patch grid: the class token's row is kept
 * apart, the grid is resized bicubically (torchvision's `interpolate_embeddings`: align_corners
 * true; `alignCorners: false` gives timm's `resample_abs_pos_embed` for upsampling).
 */
export function resizePosEmbedding(
  pos: Float32Array,
  from: [number, number],
  to: [number, number],
  hidden: number,
  alignCorners = true
): Float32Array {
  const [gh, gw] = from
  const [th, tw] = to
  if (pos.length !== (1 + gh * gw) * hidden)
    throw new Error(`position embeddings hold ${pos.length} values, expected (1 + ${gh}×${gw}) × ${hidden}`)
  // (tokens, hidden) → (hidden, gh, gw)
  const grid = permute(pos.subarray(hidden), [gh * gw, hidden], [1, 0])
  const resized = bicubicResize(grid, hidden, gh, gw, th, tw, alignCorners)
  const out = new Float32Array((1 + th * tw) * hidden)
  out.set(pos.subarray(0, hidden))
  out.set(permute(resized, [hidden, th * tw], [1, 0]), hidden)
  return out
}

/**
 * Fits ViT weights to a model built for another input size: the position embeddings (any weight
 * named `<layer>/pos_embedding`) are resized to `target`'s token count by
 * {@link resizePosEmbedding}; everything else is returned as is. A square source grid is assumed
 * (torchvision and timm pretrain on square images).
 * @param target the shape [1, 1 + gh·gw, h] the model expects, and its grid
 */
export function fitPosEmbedding(
  weights: NamedWeight[],
  target: { shape: number[]; grid: [number, number] }
): NamedWeight[] {
  return weights.map((w) => {
    if (!w.name.endsWith('/pos_embedding')) return w
    if (w.shape[1] === target.shape[1]) return w
    const hidden = w.shape[2]
    const g = Math.round(Math.sqrt(w.shape[1] - 1))
    if (g * g !== w.shape[1] - 1)
      throw new Error(`weight ${w.name}: ${w.shape[1]} positions are not a class token plus a square grid`)
    if (hidden !== target.shape[2])
      throw new Error(`weight ${w.name}: width ${hidden} does not fit the model's ${target.shape[2]}`)
    return { ...w, shape: [...target.shape], data: resizePosEmbedding(w.data, [g, g], target.grid, hidden) }
  })
}

/**
 * The weights fitted to `model` when it is a ViT built for another input size than the weights'
 * (a run at the dataset's size starting from a 224 px backbone): position embeddings resized to
 * the model's patch grid; anything else, or a model that is not a ViT, is returned unchanged.
 */
export function fitVitWeights(model: tf.LayersModel, weights: NamedWeight[]): NamedWeight[] {
  const pos = model.weights.find((w) => w.originalName.endsWith('/pos_embedding'))
  if (!pos) return weights
  // The patch conv's output (N, gh, gw, hidden) feeds the token reshape.
  const grid = (model.getLayer('patch_tokens').input as tf.SymbolicTensor).shape
  return fitPosEmbedding(weights, { shape: pos.shape as number[], grid: [grid[1] as number, grid[2] as number] })
}

/** The parts of a decoded ONNX graph {@link torchTensorsFromOnnx} reads (models/export/onnx/model.ts `decodeModel`). */
export interface OnnxGraphLike {
  initializers: ReadonlyMap<string, { dims: number[]; values: Float32Array }>
  nodes: readonly { op_type: string; input: string[]; output: string[]; attribute?: Record<string, unknown>[] }[]
}

/**
 * Recovers PyTorch parameter names from a graph written by `torch.onnx.export` (opset 11–17,
 * constant folding on or off), for the ViT mapping above:
 * - initializers keep their parameter names (`conv_proj.weight`, `encoder.pos_embedding`, ...);
 * - parameters equal to another one are deduplicated into an `Identity` node whose output bears
 *   the name (e.g. every all-zero LayerNorm bias of a fresh network): followed;
 * - weights of `nn.Linear` / `in_proj_weight` fed to `MatMul` are folded into a transposed
 *   initializer named `onnx::MatMul_N`: it gets the name of the bias added to the product
 *   (`…in_proj_bias` → `…in_proj_weight`, `…fc1.bias` → `…fc1.weight`) and PyTorch's (out, in) layout back;
 * - `Gemm` with `transB = 0` and an unnamed B likewise.
 * Returns the tensors by PyTorch name; names that cannot be recovered are left out.
 */
export function torchTensorsFromOnnx(graph: OnnxGraphLike): Map<string, TorchTensor> {
  const isTorchName = (n: string) => !n.startsWith('onnx::') && !n.startsWith('/') && !/^\d+$/.test(n)
  const value = new Map<string, { dims: number[]; values: Float32Array }>(graph.initializers)
  for (const node of graph.nodes) {
    if (node.op_type === 'Identity' && value.has(node.input[0]))
      value.set(node.output[0], value.get(node.input[0]) as { dims: number[]; values: Float32Array })
  }
  const out = new Map<string, TorchTensor>()
  for (const [name, v] of value) if (isTorchName(name)) out.set(name, { shape: [...v.dims], data: v.values })
  const consumers = new Map<string, (typeof graph.nodes)[number][]>()
  for (const node of graph.nodes) for (const i of node.input) consumers.set(i, [...(consumers.get(i) ?? []), node])
  const weightName = (bias: string) => (bias.endsWith('bias') ? `${bias.slice(0, -4)}weight` : null)
  const intAttr = (node: (typeof graph.nodes)[number], key: string): number | undefined => {
    const a = (node.attribute ?? []).find((x) => x.name === key)
    return a === undefined ? undefined : Number(a.i)
  }
  for (const node of graph.nodes) {
    let w: string | undefined
    let bias: string | undefined
    if (node.op_type === 'MatMul') {
      w = node.input[1]
      const add = (consumers.get(node.output[0]) ?? []).find((c) => c.op_type === 'Add')
      bias = add?.input.find((i) => i !== node.output[0])
    } else if (node.op_type === 'Gemm' && (intAttr(node, 'transB') ?? 0) === 0) {
      w = node.input[1]
      bias = node.input[2]
    }
    if (w === undefined || bias === undefined || isTorchName(w)) continue
    const wv = value.get(w)
    const target = isTorchName(bias) && value.has(bias) ? weightName(bias) : null
    if (!wv || wv.dims.length !== 2 || target === null || out.has(target)) continue
    out.set(target, { shape: [wv.dims[1], wv.dims[0]], data: permute(wv.values, wv.dims, [1, 0]) })
  }
  return out
}
