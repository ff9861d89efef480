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

type ArrayType = new (buffer: ArrayBuffer) => ArrayLike<number | bigint>
/** The typed array of each NumPy numeric kind ('i' int, 'u' unsigned, 'b' bool, 'f' float) at 1, 2, 4 and 8 bytes. */
const ARRAYS: Record<string, readonly (ArrayType | null)[]> = {
  i: [Int8Array, Int16Array, Int32Array, BigInt64Array],
  u: [Uint8Array, Uint16Array, Uint32Array, BigUint64Array],
  b: [Uint8Array, null, null, null],
  f: [null, null, Float32Array, Float64Array]
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
/** Reverses the byte order of every 2-, 4- or 8-byte element in place. */
const SWAP: Record<number, (b: Buffer) => void> = { 2: (b) => b.swap16(), 4: (b) => b.swap32(), 8: (b) => b.swap64() }

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
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number)
  const count = shape.reduce((a, b) => a * b, 1)
  const body = bytes.subarray(start + headerLen)
  const kind = descr.slice(1)
  const size = Number(kind.slice(1))
  const Type = ARRAYS[kind[0]]?.[[1, 2, 4, 8].indexOf(size)]
  if (!Type || kind.length !== 2) throw new Error(`unsupported .npy dtype ${descr}`)
  if (body.length < count * size) throw new Error(`truncated .npy data: ${body.length} bytes for ${count} × ${descr}`)
  if (kind === 'u1' || kind === 'b1') return { dtype: descr, shape, data: body.subarray(0, count) }
  // A copy of our own: aligned for the typed array, in the platform's byte order.
  const own = new Uint8Array(body.subarray(0, count * size))
  if (size > 1 && (descr[0] === '>') === LITTLE_ENDIAN) SWAP[size](Buffer.from(own.buffer))
  const values = new Type(own.buffer)
  if (size !== 8 || kind[0] === 'f') return { dtype: descr, shape, data: new Float64Array(values as ArrayLike<number>) }
  const data = new Float64Array(count)
  for (let i = 0; i < count; i++) data[i] = Number(values[i])
  return { dtype: descr, shape, data }
}
