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
import type { RawImage } from './image'
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
export type DicomFrame = { kind: 'gray'; values: Int32Array } | { kind: 'rgb'; rgb: Uint8Array }

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2'])
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
export function isDicom(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d
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
export function parseDicomPixels(bytes: Uint8Array): { info: DicomPixelInfo; ds: dicomParser.DataSet; pixel: dicomParser.Element } {
  let ds: dicomParser.DataSet
  try {
    ds = dicomParser.parseDicom(bytes, { inflater: inflater as unknown as (a: Uint8Array, p: number) => void })
  } catch (e) {
    throw new Error(`unreadable DICOM: ${errorText(e)}`)
  }
  const pixel = ds.elements.x7fe00010
  if (!pixel || pixel.length === 0) throw new Error('DICOM without pixel data (no 7FE0,0010 element)')
  const info: DicomPixelInfo = {
    transferSyntax: ds.string('x00020010') ?? '1.2.840.10008.1.2',
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
  if (![8, 16, 32].includes(info.bitsAllocated)) throw new Error(`unsupported Bits Allocated ${info.bitsAllocated}`)
  return { info, ds, pixel }
}

/** The reason a transfer syntax cannot be decoded here, or undefined when it can. */
export function unsupportedReason(info: DicomPixelInfo): string | undefined {
  const ts = info.transferSyntax
  const name = NAMES[ts] ?? 'unknown'
  const supported = UNCOMPRESSED.has(ts) || ['1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81'].includes(ts)
  if (!supported) return `unsupported transfer syntax ${ts} (${name})`
  if ((ts === '1.2.840.10008.1.2.4.50' || ts === '1.2.840.10008.1.2.4.51') && info.bitsStored > 8)
    return `unsupported transfer syntax ${ts} (${name}) with ${info.bitsStored} bits stored: the installed JPEG decoder (libjpeg-turbo 8-bit) decodes 8-bit samples only`
  if (info.photometric === 'PALETTE COLOR') return 'unsupported photometric interpretation PALETTE COLOR (palette lookup tables are not applied)'
  if (info.samplesPerPixel === 3 && info.bitsAllocated !== 8) return `unsupported colour image with ${info.bitsAllocated} bits allocated`
  if (info.samplesPerPixel === 3 && UNCOMPRESSED.has(ts) && info.photometric.startsWith('YBR') && info.photometric !== 'YBR_FULL')
    return `unsupported photometric interpretation ${info.photometric} in uncompressed data`
  return undefined
}

/** The encoded bytes of frame `i` of an encapsulated pixel data element. */
function encapsulatedFrame(ds: dicomParser.DataSet, pixel: dicomParser.Element, i: number, frames: number): Uint8Array {
  const fragments = pixel.fragments ?? []
  if (pixel.basicOffsetTable && pixel.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, pixel, i) as Uint8Array
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length) as Uint8Array
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, i, 1) as Uint8Array
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
  if (bytes.length < n * bps) throw new Error(`pixel data too short: ${bytes.length} bytes for ${n} samples of ${info.bitsAllocated} bits`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n * bps)
  const out = new Int32Array(n)
  const bits = info.bitsStored
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1
  const signBit = 1 << (bits - 1)
  for (let i = 0; i < n; i++) {
    let v = bps === 1 ? dv.getUint8(i) : bps === 2 ? dv.getUint16(i * 2, littleEndian) : dv.getUint32(i * 4, littleEndian)
    if (bits < 32) v &= mask
    if (info.pixelRepresentation === 1 && bits < 32 && v & signBit) v -= 1 << bits
    else if (info.pixelRepresentation === 1 && bits === 32) v = v | 0
    out[i] = v
  }
  return out
}

type Codec = { new (): { getEncodedBuffer(n: number): Uint8Array; decode(): void; getDecodedBuffer(): Uint8Array; getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number }; delete(): void } }
let charls: Promise<{ JpegLSDecoder: Codec }> | undefined
let libjpeg: Promise<{ JPEGDecoder: Codec }> | undefined
const require = createRequire(import.meta.url)

async function runCodec(codec: Codec, data: Uint8Array): Promise<{ bytes: Uint8Array; bits: number; components: number }> {
  const dec = new codec()
  try {
    dec.getEncodedBuffer(data.length).set(data)
    try {
      dec.decode()
    } catch (e) {
      throw new Error(`codec error ${errorText(e)}`)
    }
    const fi = dec.getFrameInfo()
    return { bytes: dec.getDecodedBuffer().slice(), bits: fi.bitsPerSample, components: fi.componentCount }
  } finally {
    dec.delete()
  }
}

/** Decodes frame `i` to stored values (gray) or 8-bit RGB (colour). */
export async function decodeFrame(ds: dicomParser.DataSet, pixel: dicomParser.Element, info: DicomPixelInfo, i: number): Promise<DicomFrame> {
  const ts = info.transferSyntax
  const pixels = info.rows * info.columns
  let native: Uint8Array
  let little = true
  let rgbFromCodec = false
  if (UNCOMPRESSED.has(ts)) {
    const frameBytes = pixels * info.samplesPerPixel * (info.bitsAllocated / 8)
    const off = pixel.dataOffset + i * frameBytes
    if (off + frameBytes > pixel.dataOffset + pixel.length) throw new Error(`frame ${i + 1} lies past the end of the pixel data`)
    native = ds.byteArray.subarray(off, off + frameBytes)
    little = ts !== '1.2.840.10008.1.2.2'
  } else {
    const enc = encapsulatedFrame(ds, pixel, i, info.frames)
    if (ts === '1.2.840.10008.1.2.5') native = decodeRle(enc, info)
    else if (ts === '1.2.840.10008.1.2.4.80' || ts === '1.2.840.10008.1.2.4.81') {
      charls ??= (require('@cornerstonejs/codec-charls/decodewasmjs') as () => Promise<{ JpegLSDecoder: Codec }>)()
      native = (await runCodec((await charls).JpegLSDecoder, enc)).bytes
    } else if (ts === '1.2.840.10008.1.2.4.50' || ts === '1.2.840.10008.1.2.4.51') {
      libjpeg ??= (require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as () => Promise<{ JPEGDecoder: Codec }>)()
      native = (await runCodec((await libjpeg).JPEGDecoder, enc)).bytes
      rgbFromCodec = info.samplesPerPixel === 3 // libjpeg converts YCbCr to RGB
    } else {
      const out = new LosslessDecoder().decode(enc.buffer as ArrayBuffer, enc.byteOffset, enc.length)
      native = new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    }
  }
  if (info.samplesPerPixel === 1) return { kind: 'gray', values: storedValues(native, info, little) }
  let rgb: Uint8Array = native.slice(0, pixels * 3)
  if (info.planarConfiguration === 1 && UNCOMPRESSED.has(ts)) rgb = interleave(native, pixels)
  if (!rgbFromCodec && info.photometric === 'YBR_FULL') ybrFullToRgb(rgb)
  return { kind: 'rgb', rgb }
}

function interleave(planar: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3)
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
export function toDisplay(values: Int32Array, info: Pick<DicomPixelInfo, 'rescaleSlope' | 'rescaleIntercept' | 'windowCenter' | 'windowWidth' | 'photometric'>): Uint8Array {
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
