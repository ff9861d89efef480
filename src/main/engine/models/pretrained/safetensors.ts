/**
 * safetensors reader: 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`, then the raw
 * little-endian data (offsets relative to the end of the header). F32, F16 and BF16 become
 * float32; other dtypes (e.g. I64 `num_batches_tracked`) are listed, not converted.
 */
import type { TorchTensor } from './tensors'

/** Tensors of a safetensors file. */
export interface SafetensorsFile {
  tensors: Map<string, TorchTensor>
  /** Names of tensors of a non-float dtype (not converted), with their dtype. */
  other: { name: string; dtype: string }[]
  metadata: Record<string, string>
}

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 }

/** Half-precision bits → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f ? NaN : s * Infinity
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** True when the bytes start like a safetensors file (a plausible header length, then '{'). */
export function looksLikeSafetensors(buf: Uint8Array): boolean {
  if (buf.byteLength < 9) return false
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true))
  return n > 1 && n < 100_000_000 && buf[8] === 0x7b
}

/**
 * Parses a safetensors file held in memory. Errors name `file` and say what is wrong
 * (truncated, header not JSON, a tensor's bytes outside the file or not matching its shape).
 */
export function readSafetensors(buf: Uint8Array, file: string): SafetensorsFile {
  if (buf.byteLength < 8)
    throw new Error(`${file}: ${buf.byteLength} bytes: too short for a safetensors file (truncated?)`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const n = Number(view.getBigUint64(0, true))
  if (n > buf.byteLength - 8)
    throw new Error(
      `${file}: header of ${n} bytes but the file has only ${buf.byteLength - 8} after the length field (truncated, or not a safetensors file)`
    )
  let header: Record<string, unknown>
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n))) as Record<
      string,
      unknown
    >
  } catch (e) {
    throw new Error(`${file}: the safetensors header is not valid JSON (${(e as Error).message})`)
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new Error(`${file}: the safetensors header is not a JSON object`)
  const dataStart = 8 + n
  const dataLength = buf.byteLength - dataStart
  const out: SafetensorsFile = { tensors: new Map(), other: [], metadata: {} }
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      out.metadata = (raw ?? {}) as Record<string, string>
      continue
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    if (
      typeof info?.dtype !== 'string' ||
      !Array.isArray(info.shape) ||
      !Array.isArray(info.data_offsets) ||
      info.data_offsets.length !== 2
    ) {
      throw new Error(`${file}: tensor ${name}: header entry lacks dtype, shape or data_offsets`)
    }
    const shape = info.shape.map(Number)
    const [begin, end] = info.data_offsets.map(Number)
    const size = BYTES[info.dtype]
    if (size === undefined) throw new Error(`${file}: tensor ${name}: unknown dtype ${info.dtype}`)
    if (shape.some((d) => !Number.isInteger(d) || d < 0))
      throw new Error(`${file}: tensor ${name}: bad shape [${shape}]`)
    if (!(begin >= 0 && end >= begin)) throw new Error(`${file}: tensor ${name}: bad data_offsets [${begin}, ${end}]`)
    if (end > dataLength)
      throw new Error(
        `${file}: tensor ${name} needs bytes ${begin}..${end} of the data but the file holds ${dataLength} (truncated)`
      )
    const count = shape.reduce((a, b) => a * b, 1)
    if (count * size !== end - begin)
      throw new Error(
        `${file}: tensor ${name}: ${end - begin} bytes for shape [${shape}] of ${info.dtype} (${count * size} expected)`
      )
    const at = dataStart + begin
    const data = new Float32Array(count)
    if (info.dtype === 'F32') {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, true)
    } else if (info.dtype === 'F16') {
      for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(at + 2 * i, true))
    } else if (info.dtype === 'BF16') {
      const tmp = new DataView(new ArrayBuffer(4))
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(at + 2 * i, true) << 16)
        data[i] = tmp.getFloat32(0)
      }
    } else if (info.dtype === 'F64') {
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(at + 8 * i, true)
    } else {
      out.other.push({ name, dtype: info.dtype })
      continue
    }
    out.tensors.set(name, { shape, data })
  }
  return out
}
