/**
 * DICOM pixel decoding. Only the pixel data and the technical tags needed to
 * turn it into an 8-bit image are read (size, samples, bits, sign, photometric
 * interpretation, planar configuration, frames, rescale, VOI window, transfer
 * syntax). No identifying tag (patient name, id, birth date, ...) is ever read,
 * so none can be stored, logged or shown.
 *
 * Multi-frame files: every frame becomes one image (same label and split as its file).
 */
import dicomParser from 'dicom-parser'
import { inflateRawSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { Decoder as LosslessDecoder } from 'jpeg-lossless-decoder-js'
import type { RawImage } from './types'
import { decodeJpeg12, jpegHeader, jpegPrecision } from './jpeg12'
import { errorText } from '../../../shared/errors'

/** The technical tags used to decode pixels. */
export interface DicomPixelInfo {
  transferSyntax: string
  rows: number
  columns: number
  /** 1 (gray) or 3 (colour). */
  samplesPerPixel: number
  bitsAllocated: number
  bitsStored: number
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: number
  photometric: string
  /** 0 interleaved (RGBRGB), 1 planar (RR..GG..BB..). */
  planarConfiguration: number
  frames: number
  rescaleSlope: number
  rescaleIntercept: number
  /** First value of Window Center, when present. */
  windowCenter?: number
  /** First value of Window Width, when present. */
  windowWidth?: number
}

/** Decoded stored values of one frame: gray as numbers, colour as 8-bit interleaved RGB. */
export type DicomFrame =
  | { kind: 'gray'; values: Int32Array }
  | {
      kind: 'rgb'
      rgb: Uint8Array
      /** the samples as stored (interleaved, before any colour conversion) */ values: Int32Array
    }

const UNCOMPRESSED = new Set([
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2'
])
const NAMES: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG extended 12-bit',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.4.110': 'JPEG XL lossless',
  '1.2.840.10008.1.2.5': 'RLE lossless'
}

/** True when the bytes carry the DICOM Part 10 preamble marker `DICM` at offset 128. */
export function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
}

const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' ')
)
/** Groups a bare data set (no preamble, no file meta) plausibly starts with. */
const FIRST_GROUPS = new Set([0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028])

/**
 * How a file without the Part 10 preamble is laid out, judged from its first element as
 * pydicom's `force=True` reads it: 'meta' (a file meta group without the preamble), 'explicit'
 * or 'implicit' little endian data set, or undefined when it does not look like DICOM at all.
 */
export function bareDataSet(bytes: Uint8Array): 'meta' | 'explicit' | 'implicit' | undefined {
  if (bytes.length < 12 || isPart10(bytes)) return undefined
  const group = bytes[0] | (bytes[1] << 8)
  const element = bytes[2] | (bytes[3] << 8)
  if (!FIRST_GROUPS.has(group) || element > 0x0100) return undefined
  const vr = String.fromCharCode(bytes[4], bytes[5])
  if (VRS.has(vr)) return group === 0x0002 ? 'meta' : 'explicit'
  const length = (bytes[4] | (bytes[5] << 8) | (bytes[6] << 16) | (bytes[7] << 24)) >>> 0
  return group !== 0x0002 && length < Math.min(bytes.length, 1024) && length % 2 === 0 ? 'implicit' : undefined
}

/** True for DICOM: a Part 10 file, or a bare data set (no preamble / file meta) read like pydicom's force=True. */
export function isDicom(bytes: Uint8Array): boolean {
  return isPart10(bytes) || bareDataSet(bytes) !== undefined
}

function inflater(arr: Uint8Array, position: number): Uint8Array {
  const body = inflateRawSync(arr.subarray(position))
  const out = new Uint8Array(position + body.length)
  out.set(arr.subarray(0, position))
  out.set(body, position)
  return out
}

function firstNumber(ds: dicomParser.DataSet, tag: string): number | undefined {
  const s = ds.string(tag)
  if (s === undefined || s.trim() === '') return undefined
  const v = Number(s.split('\\')[0])
  return Number.isFinite(v) ? v : undefined
}

/** Parses a DICOM file; returns the pixel tags and the pixel data element, or throws a precise reason. */
export function parseDicomPixels(bytes: Uint8Array): {
  info: DicomPixelInfo
  ds: dicomParser.DataSet
  pixel: dicomParser.Element
} {
  let ds: dicomParser.DataSet
  const bare = bareDataSet(bytes)
  // A file meta group without the 128-byte preamble gets one; a bare data set is read with the
  // transfer syntax its first element shows (implicit VR little endian as pydicom assumes).
  const input = bare === 'meta' ? withPreamble(bytes) : bytes
  const forced = bare === 'explicit' ? '1.2.840.10008.1.2.1' : bare === 'implicit' ? '1.2.840.10008.1.2' : undefined
  try {
    ds = dicomParser.parseDicom(input, {
      inflater: inflater as unknown as (a: Uint8Array, p: number) => void,
      ...(forced ? { TransferSyntaxUID: forced } : {})
    } as dicomParser.ParseDicomOptions)
  } catch (e) {
    // dicom-parser throws { exception, dataSet } with what it parsed so far. Like pydicom, keep a
    // data set whose pixel data was read whole before the damage (trailing padding or garbage).
    const partial = (e as { dataSet?: dicomParser.DataSet } | null)?.dataSet
    const px = partial?.elements?.x7fe00010
    const whole = (d: dicomParser.DataSet | undefined): boolean => {
      const p = d?.elements?.x7fe00010
      return !!p && p.length > 0 && p.dataOffset + p.length <= d!.byteArray.length && !!d!.elements.x00280010
    }
    if (partial && px && whole(partial)) ds = partial
    else {
      // A data set written implicit VR under an explicit transfer syntax (pydicom reads it, saying so)
      const implicit = forced ? undefined : implicitBody(input)
      if (!implicit || !whole(implicit)) throw new Error(`the file cannot be read as DICOM: ${errorText(e)}`)
      ds = implicit
    }
  }
  const pixel = ds.elements.x7fe00010
  if (!pixel || pixel.length === 0) throw new Error('DICOM without pixel data (no 7FE0,0010 element)')
  const info: DicomPixelInfo = {
    transferSyntax: forced ?? ds.string('x00020010')?.replace(/\0/g, '').trim() ?? '1.2.840.10008.1.2',
    rows: ds.uint16('x00280010') ?? 0,
    columns: ds.uint16('x00280011') ?? 0,
    samplesPerPixel: ds.uint16('x00280002') ?? 1,
    bitsAllocated: ds.uint16('x00280100') ?? 0,
    bitsStored: ds.uint16('x00280101') ?? ds.uint16('x00280100') ?? 0,
    pixelRepresentation: ds.uint16('x00280103') ?? 0,
    photometric: (ds.string('x00280004') ?? 'MONOCHROME2').trim().toUpperCase(),
    planarConfiguration: ds.uint16('x00280006') ?? 0,
    frames: Math.max(1, ds.intString('x00280008') ?? 1),
    rescaleSlope: firstNumber(ds, 'x00281053') ?? 1,
    rescaleIntercept: firstNumber(ds, 'x00281052') ?? 0,
    windowCenter: firstNumber(ds, 'x00281050'),
    windowWidth: firstNumber(ds, 'x00281051')
  }
  if (!info.rows || !info.columns) throw new Error('DICOM pixel data without Rows/Columns')
  if (![1, 3].includes(info.samplesPerPixel)) throw new Error(`unsupported Samples per Pixel ${info.samplesPerPixel}`)
  if (![1, 8, 16, 32].includes(info.bitsAllocated))
    throw new Error(`unsupported Bits Allocated ${info.bitsAllocated} (expected 1, 8, 16 or 32)`)
  if (info.bitsAllocated === 1 && info.samplesPerPixel !== 1)
    throw new Error('unsupported colour image with 1 bit allocated')
  if (info.bitsStored < 1 || info.bitsStored > info.bitsAllocated)
    throw new Error(`Bits Stored ${info.bitsStored} does not fit in Bits Allocated ${info.bitsAllocated}`)
  return { info, ds, pixel }
}

/** The data set after a Part 10 file meta group, read as implicit VR little endian whatever the meta says; undefined when that fails too. */
function implicitBody(bytes: Uint8Array): dicomParser.DataSet | undefined {
  const dp = dicomParser as unknown as {
    readPart10Header(b: Uint8Array): dicomParser.DataSet & { position: number }
    ByteStream: new (parser: unknown, b: Uint8Array, position: number) => { byteArrayParser: unknown }
    littleEndianByteArrayParser: unknown
    DataSet: new (parser: unknown, b: Uint8Array, elements: Record<string, dicomParser.Element>) => dicomParser.DataSet
    parseDicomDataSetImplicit(ds: dicomParser.DataSet, stream: unknown, max: number): void
    findEndOfEncapsulatedElement(
      stream: { seek(n: number): void; position: number },
      element: dicomParser.Element,
      warnings: string[]
    ): void
  }
  try {
    const meta = dp.readPart10Header(bytes)
    const stream = new dp.ByteStream(dp.littleEndianByteArrayParser, bytes, meta.position)
    const ds = new dp.DataSet(stream.byteArrayParser, bytes, {})
    dp.parseDicomDataSetImplicit(ds, stream, bytes.length)
    for (const [k, v] of Object.entries(meta.elements))
      ds.elements[k] = { ...v, parser: dp.littleEndianByteArrayParser } as dicomParser.Element
    // the implicit reader does not split encapsulated pixel data into fragments: do it here
    const px = ds.elements.x7fe00010
    const ts = ds.string('x00020010')?.replace(/\0/g, '').trim() ?? ''
    if (px && px.hadUndefinedLength && !px.fragments && !UNCOMPRESSED.has(ts)) {
      const s = new dp.ByteStream(dp.littleEndianByteArrayParser, bytes, px.dataOffset) as unknown as {
        seek(n: number): void
        position: number
      }
      dp.findEndOfEncapsulatedElement(s, px, [])
    }
    return ds
  } catch {
    return undefined
  }
}

function withPreamble(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 132)
  out.set([0x44, 0x49, 0x43, 0x4d], 128)
  out.set(bytes, 132)
  return out
}

const J2K = new Set(['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91'])
const HTJ2K = new Set(['1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203'])
const JPEG_DCT = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51'])
const DECODABLE = new Set([
  ...UNCOMPRESSED,
  ...J2K,
  ...HTJ2K,
  ...JPEG_DCT,
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81'
])

/** The reason a transfer syntax cannot be decoded here, or undefined when it can. */
export function unsupportedReason(info: DicomPixelInfo): string | undefined {
  const ts = info.transferSyntax
  const name = NAMES[ts] ?? 'unknown'
  if (!DECODABLE.has(ts)) return `its transfer syntax ${ts} (${name}) is not supported`
  if (info.bitsAllocated === 1 && !UNCOMPRESSED.has(ts))
    return `1-bit pixel data is supported uncompressed only, not in ${name}`
  if (info.photometric === 'YBR_FULL_422' && UNCOMPRESSED.has(ts) && info.bitsAllocated !== 8)
    return `uncompressed YBR_FULL_422 is supported with 8 bits allocated only, not ${info.bitsAllocated}`
  if (info.photometric === 'PALETTE COLOR' && (info.samplesPerPixel !== 1 || info.bitsAllocated > 16))
    return 'PALETTE COLOR is supported with one sample of 8 or 16 bits only'
  if (
    info.samplesPerPixel === 3 &&
    UNCOMPRESSED.has(ts) &&
    info.photometric.startsWith('YBR') &&
    !['YBR_FULL', 'YBR_FULL_422'].includes(info.photometric)
  )
    return `its photometric interpretation ${info.photometric} is not supported in uncompressed data`
  return undefined
}

/** The encoded bytes of frame `i` of an encapsulated pixel data element. */
function encapsulatedFrame(ds: dicomParser.DataSet, pixel: dicomParser.Element, i: number, frames: number): Uint8Array {
  const fragments = pixel.fragments ?? []
  if (pixel.basicOffsetTable && pixel.basicOffsetTable.length > 0)
    return dicomParser.readEncapsulatedImageFrame(ds, pixel, i) as Uint8Array
  if (frames === 1)
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length) as Uint8Array
  if (fragments.length === frames)
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, i, 1) as Uint8Array
  const table = dicomParser.createJPEGBasicOffsetTable(ds, pixel)
  return dicomParser.readEncapsulatedImageFrame(ds, pixel, i, table) as Uint8Array
}

/** Decodes DICOM RLE Lossless (PS3.5 Annex G) into the planar byte segments, recombined as native samples. */
export function decodeRle(data: Uint8Array, info: DicomPixelInfo): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const segments = view.getUint32(0, true)
  const bytesPerSample = info.bitsAllocated / 8
  const pixels = info.rows * info.columns
  const expected = bytesPerSample * info.samplesPerPixel
  if (segments !== expected) throw new Error(`RLE: ${segments} segments, expected ${expected}`)
  // Output: samples interleaved per pixel, each sample little-endian (what the uncompressed path reads).
  const out = new Uint8Array(pixels * expected)
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true)
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : data.length
    const sample = Math.floor(s / bytesPerSample)
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample) // segment 0 holds the most significant byte
    let p = 0
    let i = start
    const put = (b: number): void => {
      if (p < pixels) out[(p * info.samplesPerPixel + sample) * bytesPerSample + byteInSample] = b
      p++
    }
    while (i < end && p < pixels) {
      const n = (data[i++] << 24) >> 24
      if (n >= 0) for (let k = 0; k <= n; k++) put(data[i++])
      else if (n !== -128) {
        const b = data[i++]
        for (let k = 0; k < 1 - n; k++) put(b)
      }
    }
    if (p < pixels) throw new Error(`RLE segment ${s} is short: ${p} of ${pixels} bytes`)
  }
  return out
}

/** Reads native-endian interleaved samples into stored values, masking to Bits Stored and sign-extending. */
export function storedValues(bytes: Uint8Array, info: DicomPixelInfo, littleEndian: boolean): Int32Array {
  const n = info.rows * info.columns * info.samplesPerPixel
  const bps = info.bitsAllocated / 8
  if (bytes.length < n * bps)
    throw new Error(`pixel data too short: ${bytes.length} bytes for ${n} samples of ${info.bitsAllocated} bits`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n * bps)
  const out = new Int32Array(n)
  const bits = info.bitsStored
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1
  const signBit = 1 << (bits - 1)
  for (let i = 0; i < n; i++) {
    let v =
      bps === 1 ? dv.getUint8(i) : bps === 2 ? dv.getUint16(i * 2, littleEndian) : dv.getUint32(i * 4, littleEndian)
    if (bits < 32) v &= mask
    if (info.pixelRepresentation === 1 && bits < 32 && v & signBit) v -= 1 << bits
    else if (info.pixelRepresentation === 1 && bits === 32) v = v | 0
    out[i] = v
  }
  return out
}

type Codec = {
  new (): {
    getEncodedBuffer(n: number): Uint8Array
    decode(): void
    getDecodedBuffer(): Uint8Array
    getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number }
    delete(): void
  }
}
let charls: Promise<{ JpegLSDecoder: Codec }> | undefined
let libjpeg: Promise<{ JPEGDecoder: Codec }> | undefined
let openjpeg: Promise<{ J2KDecoder: Codec }> | undefined
let openjph: Promise<{ HTJ2KDecoder: Codec }> | undefined
const require = createRequire(import.meta.url)

async function runCodec(
  codec: Codec,
  data: Uint8Array,
  label: string
): Promise<{ bytes: Uint8Array; bits: number; components: number; width: number; height: number }> {
  const dec = new codec()
  try {
    dec.getEncodedBuffer(data.length).set(data)
    try {
      dec.decode()
    } catch (e) {
      throw new Error(`the ${label} decoder failed: ${errorText(e)}`)
    }
    const fi = dec.getFrameInfo()
    return {
      bytes: dec.getDecodedBuffer().slice(),
      bits: fi.bitsPerSample,
      components: fi.componentCount,
      width: fi.width,
      height: fi.height
    }
  } finally {
    dec.delete()
  }
}

/**
 * A codec's output (1 byte per sample up to 8 bits, else 2 little-endian bytes) laid out as the
 * uncompressed path reads it: `bitsAllocated / 8` little-endian bytes per sample.
 */
function toAllocated(
  out: { bytes: Uint8Array; bits: number; components: number; width: number; height: number },
  info: DicomPixelInfo,
  label: string
): Uint8Array {
  if (out.width === 0 || out.height === 0)
    throw new Error(`the ${label} decoder could not read the frame's header (corrupt or unsupported codestream)`)
  if (out.width !== info.columns || out.height !== info.rows || out.components !== info.samplesPerPixel)
    throw new Error(
      `the ${label} frame is ${out.width}×${out.height}×${out.components}, but the header says ${info.columns}×${info.rows}×${info.samplesPerPixel}`
    )
  const n = info.rows * info.columns * info.samplesPerPixel
  const have = out.bits > 8 ? 2 : 1
  const want = info.bitsAllocated / 8
  if (have === want) return out.bytes
  const dst = new Uint8Array(n * want)
  const src = new DataView(out.bytes.buffer, out.bytes.byteOffset, out.bytes.byteLength)
  const dv = new DataView(dst.buffer)
  for (let i = 0; i < n; i++) {
    const v = have === 1 ? out.bytes[i] : src.getUint16(2 * i, true)
    if (want === 1) dst[i] = v
    else if (want === 2) dv.setUint16(2 * i, v, true)
    else dv.setUint32(4 * i, info.pixelRepresentation === 1 && have === 2 ? (v << 16) >> 16 : v, true)
  }
  return dst
}

/** Unpacks frame `i` of 1-bit pixel data (bits packed little-endian, frames not byte-aligned). */
export function unpackBits(bytes: Uint8Array, pixels: number, frame: number): Int32Array {
  const out = new Int32Array(pixels)
  const first = frame * pixels
  if (Math.ceil((first + pixels) / 8) > bytes.length)
    throw new Error(`frame ${frame + 1} lies past the end of the 1-bit pixel data`)
  for (let p = 0; p < pixels; p++) {
    const bit = first + p
    out[p] = (bytes[bit >> 3] >> (bit & 7)) & 1
  }
  return out
}

/** Uncompressed YBR_FULL_422 (Y1 Y2 Cb Cr per pair of pixels) expanded to YBR_FULL, 3 bytes per pixel. */
export function expandYbr422(bytes: Uint8Array, rows: number, columns: number): Uint8Array {
  const out = new Uint8Array(rows * columns * 3)
  const pairs = Math.ceil(columns / 2)
  for (let y = 0; y < rows; y++) {
    for (let k = 0; k < pairs; k++) {
      const i = (y * pairs + k) * 4
      for (let j = 0; j < 2 && 2 * k + j < columns; j++) {
        const o = (y * columns + 2 * k + j) * 3
        out[o] = bytes[i + j]
        out[o + 1] = bytes[i + 2]
        out[o + 2] = bytes[i + 3]
      }
    }
  }
  return out
}

/** Decodes frame `i` to stored values (gray) or 8-bit RGB (colour). */
export async function decodeFrame(
  ds: dicomParser.DataSet,
  pixel: dicomParser.Element,
  info: DicomPixelInfo,
  i: number
): Promise<DicomFrame> {
  const ts = info.transferSyntax
  const pixels = info.rows * info.columns
  let native: Uint8Array
  let little = true
  let rgbFromCodec = false
  if (UNCOMPRESSED.has(ts)) {
    if (info.bitsAllocated === 1) {
      const values = unpackBits(ds.byteArray.subarray(pixel.dataOffset, pixel.dataOffset + pixel.length), pixels, i)
      return { kind: 'gray', values }
    }
    const ybr422 = info.photometric === 'YBR_FULL_422' && info.samplesPerPixel === 3
    const frameBytes = ybr422
      ? Math.ceil(info.columns / 2) * 4 * info.rows
      : pixels * info.samplesPerPixel * (info.bitsAllocated / 8)
    const off = pixel.dataOffset + i * frameBytes
    if (off + frameBytes > pixel.dataOffset + pixel.length)
      throw new Error(`frame ${i + 1} lies past the end of the pixel data`)
    native = ds.byteArray.subarray(off, off + frameBytes)
    little = ts !== '1.2.840.10008.1.2.2'
    if (ybr422) {
      const full = expandYbr422(native, info.rows, info.columns)
      const rgb = full.slice()
      ybrFullToRgb(rgb)
      return { kind: 'rgb', rgb, values: Int32Array.from(full) }
    }
  } else {
    let enc: Uint8Array
    try {
      enc = encapsulatedFrame(ds, pixel, i, info.frames)
    } catch (e) {
      throw new Error(`the compressed data of frame ${i + 1} cannot be located in the pixel data: ${errorText(e)}`)
    }
    if (ts === '1.2.840.10008.1.2.5') native = decodeRle(enc, info)
    else if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') {
      charls ??= (require('@cornerstonejs/codec-charls/decodewasmjs') as () => Promise<{ JpegLSDecoder: Codec }>)()
      native = toAllocated(await runCodec((await charls).JpegLSDecoder, enc, 'JPEG-LS'), info, 'JPEG-LS')
    } else if (J2K.has(ts)) {
      openjpeg ??= (require('@cornerstonejs/codec-openjpeg/decodewasmjs') as () => Promise<{ J2KDecoder: Codec }>)()
      native = toAllocated(await runCodec((await openjpeg).J2KDecoder, enc, 'JPEG 2000'), info, 'JPEG 2000')
    } else if (HTJ2K.has(ts)) {
      openjph ??= (require('@cornerstonejs/codec-openjph/wasmjs') as () => Promise<{ HTJ2KDecoder: Codec }>)()
      native = toAllocated(await runCodec((await openjph).HTJ2KDecoder, enc, 'HTJ2K'), info, 'HTJ2K')
    } else if (JPEG_DCT.has(ts) && (info.bitsStored > 8 || jpegPrecision(enc) > 8 || untransformedRgb(enc, info))) {
      // 12-bit samples (libjpeg-turbo here is 8-bit only), or RGB components that libjpeg would
      // take for YCbCr (no JFIF / Adobe marker; the DICOM header says RGB, as GDCM reads it)
      const out = decodeJpeg12(enc, untransformedRgb(enc, info) ? { transform: false } : {})
      native = toAllocated(
        { bytes: out.bytes, bits: out.precision, components: out.components, width: out.width, height: out.height },
        info,
        'JPEG 12-bit'
      )
      rgbFromCodec = info.samplesPerPixel === 3 && out.transformed
    } else if (JPEG_DCT.has(ts)) {
      libjpeg ??= (
        require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as () => Promise<{ JPEGDecoder: Codec }>
      )()
      native = toAllocated(await runCodec((await libjpeg).JPEGDecoder, enc, 'JPEG'), info, 'JPEG')
      rgbFromCodec = info.samplesPerPixel === 3 // libjpeg converts YCbCr to RGB
    } else {
      const out = new LosslessDecoder().decode(enc.buffer as ArrayBuffer, enc.byteOffset, enc.length)
      native = new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    }
  }
  if (info.samplesPerPixel === 1) {
    const values = storedValues(native, info, little)
    return info.photometric === 'PALETTE COLOR'
      ? { kind: 'rgb', rgb: applyPalette(ds, values), values }
      : { kind: 'gray', values }
  }
  let values = storedValues(native, info, little)
  if (info.planarConfiguration === 1 && UNCOMPRESSED.has(ts)) values = interleave(values, pixels)
  // Samples of more than 8 bits are scaled to 8 for display; the stored values are kept for tests.
  const max = 2 ** info.bitsStored - 1
  const rgb =
    info.bitsStored <= 8
      ? Uint8Array.from(values)
      : Uint8Array.from(values, (v) => Math.round((Math.max(0, v) / max) * 255))
  if (!rgbFromCodec && info.photometric === 'YBR_FULL') ybrFullToRgb(rgb)
  return { kind: 'rgb', rgb, values }
}

/** True for a 3-component JPEG without JFIF or Adobe marker in a file whose header says RGB. */
function untransformedRgb(enc: Uint8Array, info: DicomPixelInfo): boolean {
  if (info.samplesPerPixel !== 3 || info.photometric !== 'RGB') return false
  const h = jpegHeader(enc)
  return h.components === 3 && !h.jfif && h.adobe === undefined
}

/** PALETTE COLOR: looks every stored index up in the red, green and blue tables (PS3.3 C.7.6.3.1.5), to 8 bits. */
function applyPalette(ds: dicomParser.DataSet, index: Int32Array): Uint8Array {
  const out = new Uint8Array(index.length * 3)
  ;['x00281201', 'x00281202', 'x00281203'].forEach((tag, c) => {
    const desc = ds.elements[`x0028110${c + 1}`]
    const data = ds.elements[tag]
    if (!desc || !data) throw new Error('PALETTE COLOR without its lookup tables (0028,1101-1103 and 0028,1201-1203)')
    const entries = ds.uint16(`x0028110${c + 1}`, 0) || 65536
    const first = ds.uint16(`x0028110${c + 1}`, 1) ?? 0
    const bits = ds.uint16(`x0028110${c + 1}`, 2) ?? 16
    const wide = data.length >= entries * 2
    const at = (k: number): number => (wide ? (ds.uint16(tag, k) ?? 0) : ds.byteArray[data.dataOffset + k])
    const shift = bits > 8 ? bits - 8 : 0
    for (let i = 0; i < index.length; i++) {
      const k = Math.min(entries - 1, Math.max(0, index[i] - first))
      out[i * 3 + c] = at(k) >> shift
    }
  })
  return out
}

function interleave(planar: Int32Array, pixels: number): Int32Array {
  const out = new Int32Array(pixels * 3)
  for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = planar[c * pixels + p]
  return out
}

/** YBR_FULL to RGB in place (PS3.3 C.7.6.3.1.2). */
export function ybrFullToRgb(px: Uint8Array): void {
  const clamp = (v: number): number => Math.max(0, Math.min(255, Math.round(v)))
  for (let i = 0; i < px.length; i += 3) {
    const y = px[i]
    const cb = px[i + 1] - 128
    const cr = px[i + 2] - 128
    px[i] = clamp(y + 1.402 * cr)
    px[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr)
    px[i + 2] = clamp(y + 1.772 * cb)
  }
}

/**
 * Stored values to 8-bit display values: modality LUT (slope, intercept), then the
 * linear VOI window of PS3.3 C.11.2.1.2.1 when a window is given, else min–max of
 * the frame; MONOCHROME1 inverted so that bright always means dense.
 */
export function toDisplay(
  values: Int32Array,
  info: Pick<DicomPixelInfo, 'rescaleSlope' | 'rescaleIntercept' | 'windowCenter' | 'windowWidth' | 'photometric'>
): Uint8Array {
  const n = values.length
  const out = new Uint8Array(n)
  const { rescaleSlope: m, rescaleIntercept: b } = info
  const invert = info.photometric === 'MONOCHROME1'
  const c = info.windowCenter
  const w = info.windowWidth
  let lo: number
  let hi: number
  let f: (x: number) => number
  if (c !== undefined && w !== undefined && w >= 1) {
    lo = c - 0.5 - (w - 1) / 2
    hi = c - 0.5 + (w - 1) / 2
    f = (x) => (x <= lo ? 0 : x > hi ? 255 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255)
  } else {
    lo = Infinity
    hi = -Infinity
    for (let i = 0; i < n; i++) {
      const x = values[i] * m + b
      if (x < lo) lo = x
      if (x > hi) hi = x
    }
    const range = hi - lo
    f = range > 0 ? (x) => ((x - lo) / range) * 255 : () => 0
  }
  for (let i = 0; i < n; i++) {
    const v = Math.round(Math.min(255, Math.max(0, f(values[i] * m + b))))
    out[i] = invert ? 255 - v : v
  }
  return out
}

/** Decodes every frame of a DICOM file into 8-bit images; throws a precise reason when it cannot. */
export async function decodeDicom(bytes: Uint8Array): Promise<RawImage[]> {
  const { info, ds, pixel } = parseDicomPixels(bytes)
  const reason = unsupportedReason(info)
  if (reason) throw new Error(reason)
  const images: RawImage[] = []
  for (let i = 0; i < info.frames; i++) {
    const frame = await decodeFrame(ds, pixel, info, i)
    images.push(
      frame.kind === 'gray'
        ? { data: toDisplay(frame.values, info), width: info.columns, height: info.rows, channels: 1 }
        : { data: frame.rgb, width: info.columns, height: info.rows, channels: 3 }
    )
  }
  return images
}
