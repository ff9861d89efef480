import type { ConvertedGraph } from './convert'
import { float32FromBytes, type NodeObject } from './graph'
import { DataType, ModelProto } from './schema'

/** ONNX operator set the exporter targets (default domain). */
export const OPSET_VERSION = 13
/** ONNX IR version matching opset 13 (ONNX 1.8). */
export const IR_VERSION = 7

/** Identity of the program that wrote the file (`producer_name` / `producer_version`). */
export interface Producer {
  name: string
  version: string
}

function valueInfo(name: string, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) }
      }
    }
  }
}

/**
 * Serialises a converted graph as an ONNX ModelProto. The batch axis is symbolic ("N");
 * `metadata` becomes `metadata_props`.
 */
export function encodeModel(
  graph: ConvertedGraph,
  metadata: Record<string, string>,
  producer: Producer,
  docString = ''
): Uint8Array {
  const model = {
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET_VERSION }],
    producer_name: producer.name,
    producer_version: producer.version,
    model_version: 1,
    doc_string: docString,
    graph: {
      name: 'main',
      node: graph.nodes,
      initializer: graph.initializers,
      input: [valueInfo(graph.input.name, ['N', ...graph.input.shape])],
      output: [valueInfo(graph.output.name, ['N', ...graph.output.shape])]
    },
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value }))
  }
  const err = ModelProto.verify(model)
  if (err) throw new Error(`internal: ONNX model does not fit the schema: ${err}`)
  return ModelProto.encode(ModelProto.fromObject(model)).finish()
}

/** The parts of an ONNX file the app reads back. */
export interface DecodedModel {
  irVersion: number
  opsets: { domain: string; version: number }[]
  producer: Producer
  metadata: Record<string, string>
  /** float32 initializers by name (other types are skipped). */
  initializers: Map<string, { dims: number[]; values: Float32Array }>
  nodes: NodeObject[]
  inputs: string[]
  outputs: string[]
}

interface RawTensor {
  name?: string
  dims?: number[]
  data_type?: number
  raw_data?: Uint8Array
  float_data?: number[]
}

/** Parses an ONNX file (any producer) into the parts the app needs. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const obj = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false, arrays: true }) as {
    ir_version?: number
    opset_import?: { domain?: string; version?: number }[]
    producer_name?: string
    producer_version?: string
    metadata_props?: { key?: string; value?: string }[]
    graph?: {
      node?: NodeObject[]
      initializer?: RawTensor[]
      input?: { name?: string }[]
      output?: { name?: string }[]
    }
  }
  const initializers = new Map<string, { dims: number[]; values: Float32Array }>()
  for (const t of obj.graph?.initializer ?? []) {
    if (t.data_type !== DataType.FLOAT || !t.name) continue
    const values =
      t.raw_data && t.raw_data.length > 0 ? float32FromBytes(t.raw_data) : Float32Array.from(t.float_data ?? [])
    initializers.set(t.name, { dims: t.dims ?? [], values })
  }
  return {
    irVersion: obj.ir_version ?? 0,
    opsets: (obj.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: o.version ?? 0 })),
    producer: { name: obj.producer_name ?? '', version: obj.producer_version ?? '' },
    metadata: Object.fromEntries((obj.metadata_props ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
    initializers,
    nodes: obj.graph?.node ?? [],
    inputs: (obj.graph?.input ?? []).map((v) => v.name ?? ''),
    outputs: (obj.graph?.output ?? []).map((v) => v.name ?? '')
  }
}
