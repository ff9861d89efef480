/**
 * Image file decoding (PNG, JPEG, TIFF through sharp; BMP here because sharp's
 * prebuilt libvips has no BMP loader; DICOM through dicom.ts), recognised by
 * content, never by extension, and the resize / channel step into the cache.
 */
import sharp from 'sharp'
import { decodeDicom, isDicom } from './dicom'
import type { RawImage } from './types'
import { errorText } from '../../../shared/errors'

export type { RawImage } from './types'

/** The kind of file recognised from its first bytes. */
export type FileKind = 'png' | 'jpeg' | 'tiff' | 'bmp' | 'dicom' | 'unknown'

/** Recognises a file by its magic bytes. */
export function sniff(bytes: Uint8Array): FileKind {
  const b = bytes
  // DICOM first: a dual-personality file carries a TIFF header in its 128-byte preamble.
  if (isDicom(b)) return 'dicom'
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png'
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg'
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))
  )
    return 'tiff'
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp'
  return 'unknown'
}

/** Decodes an uncompressed BMP (8-bit palette, 24 or 32 bit; bottom-up or top-down). */
export function decodeBmp(b: Uint8Array): RawImage {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const offset = dv.getUint32(10, true)
  const headerSize = dv.getUint32(14, true)
  const width = dv.getInt32(18, true)
  const rawHeight = dv.getInt32(22, true)
  const bpp = dv.getUint16(28, true)
  const compression = headerSize >= 40 ? dv.getUint32(30, true) : 0
  if (compression !== 0 && !(compression === 3 && bpp === 32))
    throw new Error(`unsupported BMP compression ${compression}`)
  if (![8, 24, 32].includes(bpp)) throw new Error(`unsupported BMP with ${bpp} bits per pixel`)
  const height = Math.abs(rawHeight)
  const stride = Math.ceil((width * bpp) / 32) * 4
  if (offset + stride * height > b.length) throw new Error('truncated BMP pixel data')
  const palette = 14 + headerSize
  const out = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const row = offset + (rawHeight > 0 ? height - 1 - y : y) * stride
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3
      const p = bpp === 8 ? palette + 4 * b[row + x] : row + x * (bpp / 8)
      out[o] = b[p + 2]
      out[o + 1] = b[p + 1]
      out[o + 2] = b[p]
    }
  }
  return { data: out, width, height, channels: 3 }
}

/** Decodes a file's bytes into one or more images (DICOM multi-frame gives several); throws a precise reason. */
export async function decodeImageFile(bytes: Uint8Array): Promise<RawImage[]> {
  if (bytes.length === 0) throw new Error('empty file (0 bytes)')
  const kind = sniff(bytes)
  if (kind === 'unknown') throw new Error('not an image: content is not PNG, JPEG, TIFF, BMP or DICOM')
  if (kind === 'dicom') return decodeDicom(bytes)
  if (kind === 'bmp') return [decodeBmp(bytes)]
  try {
    // failOn 'warning' turns silently padded truncated files into errors.
    const meta = await sharp(bytes, { failOn: 'warning' }).metadata()
    const gray = meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels ?? 3) <= 2
    if (gray && meta.depth === 'ushort') {
      // 16-bit gray (X-ray PNG / TIFF): often only 10–12 bits used, so stretched min–max to 8 bits like an unwindowed DICOM.
      const { data, info } = await sharp(bytes, { failOn: 'warning' })
        .toColourspace('grey16')
        .raw({ depth: 'ushort' })
        .toBuffer({ resolveWithObject: true })
      const v = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length))
      return [{ data: stretch(v), width: info.width, height: info.height, channels: 1 }]
    }
    // Without an explicit colour space sharp's raw output turns gray into 3 equal channels.
    const s = gray
      ? sharp(bytes, { failOn: 'warning' }).toColourspace('b-w')
      : sharp(bytes, { failOn: 'warning' }).removeAlpha().toColourspace('srgb')
    const { data, info } = await s.raw().toBuffer({ resolveWithObject: true })
    if (info.channels !== 1 && info.channels !== 3) throw new Error(`unsupported channel count ${info.channels}`)
    return [
      {
        data: new Uint8Array(data.buffer, data.byteOffset, data.length),
        width: info.width,
        height: info.height,
        channels: info.channels
      }
    ]
  } catch (e) {
    throw new Error(`corrupt or truncated ${kind.toUpperCase()}: ${errorText(e)}`)
  }
}

/** Linear min–max stretch of 16-bit values to 0–255 (all zeros when the image is flat). */
export function stretch(v: Uint16Array): Uint8Array {
  let lo = 65535
  let hi = 0
  for (const x of v) {
    if (x < lo) lo = x
    if (x > hi) hi = x
  }
  const out = new Uint8Array(v.length)
  if (hi > lo) for (let i = 0; i < v.length; i++) out[i] = Math.round(((v[i] - lo) / (hi - lo)) * 255)
  return out
}

/**
 * Resizes to size × size (stretching, as torchvision's Resize((s, s)); the whole
 * image is kept) and converts to `channels` (gray repeated to RGB, RGB to luma).
 */
export async function preprocess(img: RawImage, size: number, channels: 1 | 3): Promise<Uint8Array> {
  if (img.width === size && img.height === size) return convertChannels(img.data, img.channels, channels)
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).resize(
    size,
    size,
    { fit: 'fill' }
  )
  if (channels === 1 && img.channels === 3) s = s.toColourspace('b-w')
  const { data, info } = await s.raw().toBuffer({ resolveWithObject: true })
  return convertChannels(
    new Uint8Array(data.buffer, data.byteOffset, data.length),
    info.channels === 1 ? 1 : 3,
    channels
  )
}

/** Repeats gray to 3 channels or reduces RGB to luma (ITU-R BT.601 weights). */
export function convertChannels(data: Uint8Array, from: 1 | 3, to: 1 | 3): Uint8Array {
  if (from === to) return data
  const n = data.length / from
  const out = new Uint8Array(n * to)
  if (to === 3) for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i]
  else
    for (let i = 0; i < n; i++)
      out[i] = Math.round(0.299 * data[3 * i] + 0.587 * data[3 * i + 1] + 0.114 * data[3 * i + 2])
  return out
}
