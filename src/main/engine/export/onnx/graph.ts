import { AttributeType, DataType } from './schema'

/** An ONNX attribute value; the tag picks the wire type (ONNX tells INT from FLOAT). */
export type Attr = { int: number } | { ints: number[] } | { float: number } | { floats: number[] } | { string: string }

/** A node in protobufjs plain-object form (`onnx.NodeProto`). */
export interface NodeObject {
  input: string[]
  output: string[]
  name: string
  op_type: string
  attribute: Record<string, unknown>[]
}

/** A tensor in protobufjs plain-object form (`onnx.TensorProto`), data as little-endian raw bytes. */
export interface TensorObject {
  name: string
  dims: number[]
  data_type: number
  raw_data: Uint8Array
}

function encodeAttr(name: string, a: Attr): Record<string, unknown> {
  if ('int' in a) return { name, type: AttributeType.INT, i: a.int }
  if ('ints' in a) return { name, type: AttributeType.INTS, ints: a.ints }
  if ('float' in a) return { name, type: AttributeType.FLOAT, f: a.float }
  if ('floats' in a) return { name, type: AttributeType.FLOATS, floats: a.floats }
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.string) }
}

/** Little-endian bytes of float32 values, whatever the host byte order. */
export function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true)
  return out
}

/** Float32 values of little-endian raw bytes. */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out = new Float32Array(bytes.byteLength / 4)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

function int64Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8)
  const view = new DataView(out.buffer)
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true))
  return out
}

/**
 * Collects the nodes and initializers of one ONNX graph, in topological order, with
 * unique value names.
 */
export class GraphBuilder {
  /** Nodes in the order they were added (the converter adds them topologically). */
  readonly nodes: NodeObject[] = []
  /** Constant tensors (weights and operator parameters). */
  readonly initializers: TensorObject[] = []
  private readonly used = new Set<string>()
  private readonly scalars = new Map<number, string>()

  /** A value name not used before, derived from `base`. */
  unique(base: string): string {
    let name = base
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`
    this.used.add(name)
    return name
  }

  /** Adds a float32 initializer and returns its name. */
  float(base: string, values: ArrayLike<number>, dims: number[]): string {
    const name = this.unique(base)
    this.initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: float32Bytes(values) })
    return name
  }

  /** A shared float32 scalar initializer (dims []) holding `value`. */
  scalar(value: number): string {
    let name = this.scalars.get(value)
    if (name === undefined) {
      name = this.float(`const_${value}`, [value], [])
      this.scalars.set(value, name)
    }
    return name
  }

  /** Adds an int64 initializer (shapes, pads) and returns its name. */
  int64(base: string, values: number[]): string {
    const name = this.unique(base)
    this.initializers.push({ name, dims: [values.length], data_type: DataType.INT64, raw_data: int64Bytes(values) })
    return name
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: string[], base: string, attrs: Record<string, Attr> = {}): string {
    const output = this.unique(base)
    this.nodes.push({
      input: inputs,
      output: [output],
      name: output,
      op_type: opType,
      attribute: Object.entries(attrs).map(([k, v]) => encodeAttr(k, v))
    })
    return output
  }
}
