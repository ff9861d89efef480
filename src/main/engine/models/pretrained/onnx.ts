/**
 * Reading the weights of an ONNX file written by `torch.onnx.export` (opset 11–17).
 *
 * Two cases:
 *  - the initializers keep their PyTorch names (`do_constant_folding=False`, or
 *    `training=TrainingMode.PRESERVE`): they are the tensors, as they are;
 *  - the default eval-mode export FOLDS each BatchNorm that follows a conv into that conv
 *    (weight × γ/σ, bias β − γμ/σ) and renames the result (`onnx::Conv_123`); a linear layer may
 *    become a MatMul on a transposed, renamed weight. Then the graph is walked: its Conv,
 *    BatchNormalization and Gemm / MatMul (+Add) nodes in order are matched to the family's
 *    parameter modules in forward order, restoring PyTorch names. A folded BatchNorm comes back
 *    as the folded conv plus an IDENTITY BatchNorm (γ = 1, β = the conv's bias, μ = 0,
 *    σ² = 1 − ε), which computes the same function in inference mode.
 */
import { decodeModel } from '../../export/onnx/model'
import type { TorchTensor } from './tensors'
import { transpose2d } from './tensors'

/** A parameterised module of a family, in forward order. */
export type ModuleSpec = { kind: 'conv' | 'bn' | 'linear'; name: string }

/** A parameterised op of an ONNX graph, in node order. */
type GraphOp =
  | { kind: 'conv'; node: string; weight: TorchTensor; bias: TorchTensor | null }
  | { kind: 'bn'; node: string; scale: TorchTensor; bias: TorchTensor; mean: TorchTensor; variance: TorchTensor }
  | { kind: 'linear'; node: string; weight: TorchTensor; bias: TorchTensor | null }

/** An ONNX file's parts needed for weight import. */
export interface OnnxWeights {
  /** float32 initializers (and Constant node values) by their names in the file. */
  initializers: Map<string, TorchTensor>
  /** Conv / BatchNormalization / Gemm / MatMul ops with their constant inputs, in node order. */
  ops: GraphOp[]
}

/** True when the bytes can be the start of an ONNX ModelProto (field 1 ir_version varint). */
export function looksLikeOnnx(buf: Uint8Array): boolean {
  return buf.byteLength > 2 && buf[0] === 0x08
}

interface Attr {
  name?: string
  i?: number
  f?: number
  ints?: number[]
  t?: { dims?: number[]; data_type?: number; raw_data?: Uint8Array; float_data?: number[] }
}

/** Parses an ONNX file; errors name `file` (truncated, not ONNX, external data). */
export function readOnnx(buf: Uint8Array, file: string): OnnxWeights {
  let m: ReturnType<typeof decodeModel>
  try {
    m = decodeModel(buf)
  } catch (e) {
    throw new Error(`${file}: not a readable ONNX file (truncated or another format): ${(e as Error).message}`)
  }
  if (m.nodes.length === 0)
    throw new Error(`${file}: not a readable ONNX file: it has no graph nodes (truncated, or not a model)`)
  const initializers = new Map<string, TorchTensor>()
  for (const [name, t] of m.initializers) {
    const count = t.dims.reduce((a, b) => a * b, 1)
    if (t.values.length !== count) {
      throw new Error(
        `${file}: initializer ${name} has ${t.values.length} values for shape [${t.dims}] (external data files are not supported; re-export without external data)`
      )
    }
    initializers.set(name, { shape: t.dims, data: t.values })
  }
  const value = (n: string | undefined): TorchTensor | null => (n ? (initializers.get(n) ?? null) : null)
  const ops: GraphOp[] = []
  for (let k = 0; k < m.nodes.length; k++) {
    const node = m.nodes[k]
    const attrs = (node.attribute ?? []) as Attr[]
    const attr = (name: string) => attrs.find((a) => a.name === name)
    const label = node.name || `${node.op_type} #${k}`
    switch (node.op_type) {
      case 'Constant': {
        const t = attr('value')?.t
        if (t && t.data_type === 1 && node.output[0]) {
          const values =
            t.raw_data && t.raw_data.length > 0
              ? new Float32Array(new Uint8Array(t.raw_data).buffer.slice(0))
              : Float32Array.from(t.float_data ?? [])
          initializers.set(node.output[0], { shape: t.dims ?? [], data: values })
        }
        break
      }
      case 'Identity': {
        const v = value(node.input[0])
        if (v && node.output[0]) initializers.set(node.output[0], v)
        break
      }
      case 'Conv': {
        const weight = value(node.input[1])
        if (weight) ops.push({ kind: 'conv', node: label, weight, bias: value(node.input[2]) })
        break
      }
      case 'BatchNormalization': {
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => value(node.input[i]))
        if (scale && bias && mean && variance) ops.push({ kind: 'bn', node: label, scale, bias, mean, variance })
        break
      }
      case 'Gemm': {
        const w = value(node.input[1])
        if (!w) break
        const transB = Number(attr('transB')?.i ?? 0)
        ops.push({ kind: 'linear', node: label, weight: transB ? w : transpose2d(w), bias: value(node.input[2]) })
        break
      }
      case 'MatMul': {
        const w = value(node.input[1])
        if (!w || w.shape.length !== 2) break
        const next = m.nodes[k + 1]
        const bias =
          next && next.op_type === 'Add' && next.input.includes(node.output[0])
            ? value(next.input.find((i) => i !== node.output[0]))
            : null
        ops.push({ kind: 'linear', node: label, weight: transpose2d(w), bias })
        break
      }
    }
  }
  return { initializers, ops }
}

/**
 * PyTorch-named tensors from the graph's ops, matched in order to `modules`. Returns null when
 * the graph does not have the modules' number of convs and linears (another family or variant);
 * throws naming the first op that does not fit. `folded` receives the names of BatchNorm
 * tensors restored from a folded conv.
 */
export function tensorsFromGraph(
  w: OnnxWeights,
  modules: ModuleSpec[],
  folded: Set<string>
): Map<string, TorchTensor> | null {
  const count = (ops: { kind: string }[], kind: string) => ops.filter((o) => o.kind === kind).length
  if (count(w.ops, 'conv') !== count(modules, 'conv') || count(w.ops, 'linear') !== count(modules, 'linear'))
    return null
  const out = new Map<string, TorchTensor>()
  let j = 0
  let pendingBias: { conv: string; bias: TorchTensor } | null = null
  const eps = 1e-5
  for (const mod of modules) {
    const op = w.ops[j]
    // A conv with a bias where PyTorch's has none is a folded conv: its BatchNorm is gone from the graph.
    if (mod.kind === 'bn' && (pendingBias || op?.kind !== 'bn')) {
      if (!pendingBias)
        throw new Error(
          `ONNX graph: ${mod.name} (BatchNorm) has neither a BatchNormalization node nor a folded conv bias before ${op?.node ?? 'the end'}`
        )
      const c = pendingBias.bias.shape[0]
      const put = (p: string, v: number | Float32Array) => {
        out.set(`${mod.name}.${p}`, { shape: [c], data: typeof v === 'number' ? new Float32Array(c).fill(v) : v })
        folded.add(`${mod.name}.${p}`)
      }
      put('weight', 1)
      put('bias', Float32Array.from(pendingBias.bias.data))
      put('running_mean', 0)
      put('running_var', 1 - eps)
      pendingBias = null
      continue
    }
    if (!op) throw new Error(`ONNX graph: ${mod.name} (${mod.kind}) has no matching node: the graph ends early`)
    if (op.kind !== mod.kind)
      throw new Error(`ONNX graph: node ${op.node} is a ${op.kind} where ${mod.name} (${mod.kind}) was expected`)
    if (pendingBias) throw new Error(`ONNX graph: ${pendingBias.conv} has a bias that no BatchNorm absorbs`)
    j++
    if (op.kind === 'conv') {
      out.set(`${mod.name}.weight`, op.weight)
      if (op.bias) pendingBias = { conv: mod.name, bias: op.bias }
    } else if (op.kind === 'bn') {
      out.set(`${mod.name}.weight`, op.scale)
      out.set(`${mod.name}.bias`, op.bias)
      out.set(`${mod.name}.running_mean`, op.mean)
      out.set(`${mod.name}.running_var`, op.variance)
    } else {
      out.set(`${mod.name}.weight`, op.weight)
      if (!op.bias) throw new Error(`ONNX graph: node ${op.node} (${mod.name}) has no bias`)
      out.set(`${mod.name}.bias`, op.bias)
    }
  }
  if (pendingBias) throw new Error(`ONNX graph: ${pendingBias.conv} has a bias that no BatchNorm absorbs`)
  if (j !== w.ops.length)
    throw new Error(`ONNX graph: node ${w.ops[j].node} is left over after every module of the architecture was matched`)
  return out
}
