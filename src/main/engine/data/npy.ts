/**
 * NumPy `.npy` arrays (format versions 1–3), as stored inside MedMNIST `.npz`
 * archives. Only C-order arrays of plain numeric dtypes are accepted.
 */

/** A decoded `.npy` array: values widened to a JS typed array, plus its shape. */
export interface NpyArray {
  /** NumPy dtype string from the header, e.g. `|u1`, `<i8`, `<f4`. */
  dtype: string
  shape: number[]
  /** The raw bytes for `|u1` (zero-copy); other dtypes are converted to Float64Array. */
  data: Uint8Array | Float64Array
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

/** True when the bytes start with the `.npy` magic string. */
export function isNpy(bytes: Uint8Array): boolean {
  return MAGIC.every((b, i) => bytes[i] === b)
}

/** Parses the header dict and returns the array; throws with a precise reason on anything unsupported. */
export function parseNpy(bytes: Uint8Array): NpyArray {
  if (!isNpy(bytes)) throw new Error('not a .npy array (magic \\x93NUMPY missing)')
  const major = bytes[6]
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const start = major === 1 ? 10 : 12
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen))
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1]
  if (!descr || !fortran || shapeText === undefined) throw new Error(`malformed .npy header: ${header.trim()}`)
  if (fortran === 'True') throw new Error('Fortran-order .npy arrays are not supported')
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number)
  const count = shape.reduce((a, b) => a * b, 1)
  const body = bytes.subarray(start + headerLen)
  const kind = descr.slice(1)
  const little = descr[0] !== '>'
  const sizes: Record<string, number> = { u1: 1, i1: 1, b1: 1, u2: 2, i2: 2, u4: 4, i4: 4, u8: 8, i8: 8, f4: 4, f8: 8 }
  const size = sizes[kind]
  if (!size) throw new Error(`unsupported .npy dtype ${descr}`)
  if (body.length < count * size) throw new Error(`truncated .npy data: ${body.length} bytes for ${count} × ${descr}`)
  if (kind === 'u1' || kind === 'b1') return { dtype: descr, shape, data: body.subarray(0, count) }
  const dv = new DataView(body.buffer, body.byteOffset, count * size)
  const out = new Float64Array(count)
  for (let i = 0; i < count; i++) {
    const o = i * size
    switch (kind) {
      case 'i1': out[i] = dv.getInt8(o); break
      case 'u2': out[i] = dv.getUint16(o, little); break
      case 'i2': out[i] = dv.getInt16(o, little); break
      case 'u4': out[i] = dv.getUint32(o, little); break
      case 'i4': out[i] = dv.getInt32(o, little); break
      case 'u8': out[i] = Number(dv.getBigUint64(o, little)); break
      case 'i8': out[i] = Number(dv.getBigInt64(o, little)); break
      case 'f4': out[i] = dv.getFloat32(o, little); break
      default: out[i] = dv.getFloat64(o, little)
    }
  }
  return { dtype: descr, shape, data: out }
}
