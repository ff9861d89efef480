import * as tf from '@tensorflow/tfjs'
import { GraphBuilder, type NodeObject, type TensorObject } from './graph'
import {
  activation,
  layerConverters as cnnConverters,
  type LayerContext,
  type LayerConverter,
  type Value
} from './layers'
import { toOnnxLayout, type WeightLayout } from './layout'
import { vitLayerConverters } from './vit'

/** Every layer class the export converts: the CNN layers' and the ViT's (onnx/vit.ts). */
const layerConverters: Readonly<Record<string, LayerConverter>> = { ...cnnConverters, ...vitLayerConverters }

/** A model that cannot be exported, with a message naming the layer and what is wrong. */
export class ExportError extends Error {
  override name = 'ExportError'
}

/** Where a TF.js weight went in the ONNX graph (used to load an ONNX file back into the same architecture). */
export interface WeightEntry {
  /** ONNX initializer name. */
  initializer: string
  /** How its values were rearranged. */
  layout: WeightLayout
}

/** Options of {@link convertLayersModel}. */
export interface ConvertOptions {
  /** Graph input name (float32 [N, H, W, C]); default "image". */
  inputName?: string
  /** Graph output name; default "probabilities". */
  outputName?: string
  /**
   * Applied after the model's own output, for models that end in logits: 'softmax'
   * (single-label) or 'sigmoid' (multi-label). Default 'none' (the model already ends in one).
   */
  outputActivation?: 'none' | 'softmax' | 'sigmoid'
}

/** An ONNX graph converted from a LayersModel. */
export interface ConvertedGraph {
  nodes: NodeObject[]
  initializers: TensorObject[]
  /** Input name and its NHWC shape without the batch axis. */
  input: { name: string; shape: [number, number, number] }
  /** Output name and its shape without the batch axis ([classes]). */
  output: { name: string; shape: number[] }
  /** Per TF.js weight (stable name `<layer>/<param>`), where it went. */
  weights: Record<string, WeightEntry>
}

type Layer = tf.layers.Layer

function shortName(v: tf.LayerVariable): string {
  const parts = v.originalName.split('/')
  return parts[parts.length - 1]
}

/**
 * Walks a TF.js LayersModel (functional or sequential, nested models included) from its output
 * back to its input and emits the equivalent ONNX nodes. Images are NCHW inside the graph: the
 * NHWC input is transposed once at the start.
 */
export function convertLayersModel(model: tf.LayersModel, options: ConvertOptions = {}): ConvertedGraph {
  const inputName = options.inputName ?? 'image'
  const outputName = options.outputName ?? 'probabilities'
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ExportError(
      `model "${model.name}" has ${model.inputs.length} inputs and ${model.outputs.length} outputs; one of each is exported`
    )
  }
  const inShape = model.inputs[0].shape.slice(1)
  if (inShape.length !== 3 || inShape.some((d) => d === null)) {
    throw new ExportError(`model input shape [${model.inputs[0].shape}] is not a fixed [N, height, width, channels]`)
  }
  const g = new GraphBuilder()
  g.unique(inputName)
  g.unique(outputName)
  const weights: Record<string, WeightEntry> = {}
  const initializerOf = new Map<tf.LayerVariable, string>()

  const convertLayer = (layer: Layer, inputs: Value[]): string => {
    const className = layer.getClassName()
    const fail = (reason: string) =>
      new ExportError(`layer "${layer.name}" (${className}) cannot be exported to ONNX: ${reason}`)
    const converter = layerConverters[className]
    if (converter === undefined)
      throw fail(`no converter for this layer class (supported: ${Object.keys(layerConverters).join(', ')})`)
    const find = (short: string) => layer.weights.findIndex((v) => shortName(v) === short)
    const ctx: LayerContext = {
      g,
      name: layer.name,
      config: layer.getConfig() as Record<string, unknown>,
      inputs,
      weight: (short, layout) => {
        const i = find(short)
        if (i < 0) throw fail(`it has no weight "${short}"`)
        const v = layer.weights[i]
        let name = initializerOf.get(v)
        if (name === undefined) {
          const { values, dims } = toOnnxLayout(layout, v.read().dataSync(), v.shape as number[])
          name = g.float(v.originalName, values, dims)
          initializerOf.set(v, name)
        }
        weights[v.originalName] = { initializer: name, layout }
        return name
      },
      fail
    }
    const out = converter(ctx)
    const missing = layer.weights.filter((v) => weights[v.originalName] === undefined).map((v) => shortName(v))
    if (missing.length > 0) throw fail(`its weights ${missing.join(', ')} have no place in the ONNX graph`)
    return out
  }

  // Resolves a symbolic tensor to an ONNX value; memo is per (nested) model call.
  const resolve = (t: tf.SymbolicTensor, memo: Map<number, Value>): Value => {
    const known = memo.get(t.id)
    if (known) return known
    const layer = t.sourceLayer
    const node = layer.inboundNodes[t.nodeIndex]
    if (node === undefined || node.inputTensors.length === 0) {
      throw new ExportError(`tensor "${t.name}" of layer "${layer.name}" is not reachable from the model input`)
    }
    const inputs = node.inputTensors.map((x) => resolve(x, memo))
    let value: Value
    if (layer instanceof tf.LayersModel) {
      const inner = new Map<number, Value>()
      layer.inputs.forEach((x, i) => inner.set(x.id, inputs[i]))
      value = resolve(layer.outputs[t.tensorIndex], inner)
    } else {
      if (node.outputTensors.length !== 1)
        throw new ExportError(`layer "${layer.name}" (${layer.getClassName()}) has several outputs; not exported`)
      const shape = t.shape.slice(1) as number[]
      value = { name: convertLayer(layer, inputs), shape }
    }
    memo.set(t.id, value)
    return value
  }

  const nchw = g.node('Transpose', [inputName], 'image_nchw', { perm: { ints: [0, 3, 1, 2] } })
  const memo = new Map<number, Value>([[model.inputs[0].id, { name: nchw, shape: inShape as number[] }]])
  const result = resolve(model.outputs[0], memo)
  let out = result.name
  if (result.shape.length === 3) out = g.node('Transpose', [out], 'output_nhwc', { perm: { ints: [0, 2, 3, 1] } })
  else if (result.shape.length !== 1)
    throw new ExportError(`model output shape [${result.shape}] is neither [classes] nor an image`)
  const act = options.outputActivation ?? 'none'
  if (act !== 'none') {
    if (result.shape.length !== 1) throw new ExportError(`outputActivation "${act}" needs a [classes] output`)
    out = activation(g, out, act, 'output', (r) => new ExportError(r))
  }
  g.nodes.push({ input: [out], output: [outputName], name: outputName, op_type: 'Identity', attribute: [] })
  return {
    nodes: g.nodes,
    initializers: g.initializers,
    input: { name: inputName, shape: inShape as [number, number, number] },
    output: { name: outputName, shape: result.shape },
    weights
  }
}
