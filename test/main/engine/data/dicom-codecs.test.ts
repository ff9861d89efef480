// DICOM transfer syntaxes and layouts beyond the shared files: the shared uncompressed CT (16-bit
// signed) and ultrasound (8-bit RGB, 8 frames) re-encoded at test time by independent encoders
// (gdcmconv, dcmtk, pydicom; HTJ2K by openjph's own encoder, the only one here), decoded by the
// importer and compared with the source pixels (lossless: exactly) and with pydicom + GDCM
// (lossy: within one grey level, the rounding of different inverse transforms).
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import dicomParser from 'dicom-parser'
import {
  decodeDicom,
  decodeFrame,
  parseDicomPixels,
  ybrFullToRgb,
  type DicomFrame
} from '../../../../src/main/engine/data/dicom'
import { decodeImageFile } from '../../../../src/main/engine/data/image'
import { HAVE_SHARED_DATA, SHARED_DATA, SYSTEM_PYTHON } from '../../../fixtures/data/shared'

const SRC = join(SHARED_DATA, 'dicom', 'dicomparser', 'testImages')
const CT = join(SRC, 'CT1_UNC.explicit_little_endian.dcm')
const US = join(SRC, 'encapsulated', 'multi-frame', 'IM00001.implicit_little_endian.dcm')
const MAKE = fileURLToPath(new URL('../../../fixtures/data/dicom_variants.py', import.meta.url))

interface Variant {
  name: string
  file: string
  ts: string | null
  lossless: boolean
  ref: string | null
  orig: string
  reason?: string
}

const work = await mkdtemp(join(tmpdir(), 'ff-dicom-codecs-'))
afterAll(() => rm(work, { recursive: true, force: true }))

async function i32(file: string): Promise<Int32Array> {
  const b = await readFile(file)
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
}

async function decodeAll(file: string): Promise<DicomFrame[]> {
  const { info, ds, pixel } = parseDicomPixels(new Uint8Array(await readFile(file)))
  const frames: DicomFrame[] = []
  for (let i = 0; i < info.frames; i++) frames.push(await decodeFrame(ds, pixel, info, i))
  return frames
}

function flat(frames: DicomFrame[]): Int32Array {
  const out = new Int32Array(frames.reduce((a, f) => a + f.values.length, 0))
  let o = 0
  for (const f of frames) {
    out.set(f.values, o)
    o += f.values.length
  }
  return out
}

function diff(a: Int32Array, b: Int32Array): { max: number; mean: number } {
  let max = 0
  let sum = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i])
    if (d > max) max = d
    sum += d
  }
  return { max, mean: sum / a.length }
}

type HtEncoder = {
  getDecodedBuffer(fi: {
    width: number
    height: number
    bitsPerSample: number
    componentCount: number
    isSigned: boolean
    isUsingColorTransform: boolean
  }): Uint8Array
  setQuality(lossless: boolean, step: number): void
  encode(): void
  getEncodedBuffer(): Uint8Array
  delete(): void
}

/** HTJ2K codestreams of the CT's pixels by codec-openjph's encoder: lossless, then lossy. */
async function htj2kCodestreams(): Promise<string[]> {
  const ds = dicomParser.parseDicom(new Uint8Array(await readFile(CT)))
  const px = ds.elements.x7fe00010
  const raw = ds.byteArray.subarray(px.dataOffset, px.dataOffset + px.length)
  const m = await (
    createRequire(import.meta.url)('@cornerstonejs/codec-openjph/wasmjs') as () => Promise<{
      HTJ2KEncoder: new () => HtEncoder
    }>
  )()
  const files: string[] = []
  for (const [k, lossless] of [true, false].entries()) {
    const enc = new m.HTJ2KEncoder()
    try {
      enc
        .getDecodedBuffer({
          width: 512,
          height: 512,
          bitsPerSample: 16,
          componentCount: 1,
          isSigned: true,
          isUsingColorTransform: false
        })
        .set(raw)
      enc.setQuality(lossless, lossless ? 0 : 0.002)
      enc.encode()
      const f = join(work, `ct_${k}.j2c`)
      await writeFile(f, enc.getEncodedBuffer())
      files.push(f)
    } finally {
      enc.delete()
    }
  }
  return files
}

describe.skipIf(!HAVE_SHARED_DATA)('DICOM codecs and layouts (files encoded at test time)', () => {
  let variants: Variant[] = []
  const byName = (n: string): Variant => {
    const v = variants.find((x) => x.name === n)
    if (!v) throw new Error(`variant ${n} was not written`)
    return v
  }

  beforeAll(async () => {
    const streams = await htj2kCodestreams()
    const out = execFileSync(SYSTEM_PYTHON, [MAKE, work, CT, US, ...streams], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 16 << 20
    })
    variants = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Variant)
  }, 120_000)

  it('lossless encodings decode to exactly the source pixels (and to what pydicom + GDCM decodes)', async () => {
    const names = [
      'ct_j2k',
      'us_j2k',
      'ct_jpegls',
      'us_jpegls',
      'ct_jpeg_lossless',
      'ct_rle',
      'us_rle',
      'ct_dcmcrle',
      'ct12_uncompressed',
      'us16_uncompressed',
      'us16_planar',
      'us16_rle',
      'us32_rle',
      'mask1bit',
      'ybr422',
      'palette',
      'nometa_implicit',
      'nometa_explicit',
      'htj2k_0'
    ]
    for (const n of names) {
      const v = byName(n)
      const mine = flat(await decodeAll(v.file))
      const orig = await i32(v.orig)
      expect(mine.length, n).toBe(orig.length)
      expect(diff(mine, orig).max, n).toBe(0)
      // pydicom + GDCM cannot decode HTJ2K here (nothing can but openjph): its check is the source pixels alone
      if (n !== 'htj2k_0') expect(diff(mine, await i32(v.ref!)).max, `${n} vs pydicom`).toBe(0)
    }
    expect(new Set(names.map((n) => byName(n).ts))).toEqual(
      new Set([
        '1.2.840.10008.1.2.4.90',
        '1.2.840.10008.1.2.4.80',
        '1.2.840.10008.1.2.4.70',
        '1.2.840.10008.1.2.5',
        '1.2.840.10008.1.2.1',
        null,
        '1.2.840.10008.1.2.4.201'
      ])
    )
  })

  it('lossy JPEG 2000 and JPEG extended 12-bit are within one grey level of pydicom + GDCM', async () => {
    for (const n of ['ct_j2k_lossy', 'us_j2k_lossy', 'ct12_jpeg51']) {
      const v = byName(n)
      expect(v.ts, n).toBe(n === 'ct12_jpeg51' ? '1.2.840.10008.1.2.4.51' : '1.2.840.10008.1.2.4.91')
      const mine = flat(await decodeAll(v.file))
      const ref = await i32(v.ref!)
      expect(mine.length, n).toBe(ref.length)
      expect(diff(mine, ref).max, n).toBeLessThanOrEqual(1)
      // and close to the source: a real lossy encoding, not noise
      expect(diff(mine, await i32(v.orig)).mean, n).toBeLessThan(n.startsWith('us') ? 6 : 25)
      expect(diff(mine, await i32(v.orig)).mean, n).toBeGreaterThan(0)
    }
  })

  it('lossy HTJ2K (openjph round trip, no independent decoder here) stays close to the source', async () => {
    const v = byName('htj2k_1')
    expect(v.ts).toBe('1.2.840.10008.1.2.4.203')
    const d = diff(flat(await decodeAll(v.file)), await i32(v.orig))
    expect(d.mean).toBeGreaterThan(0)
    expect(d.mean).toBeLessThan(20)
  })

  it('display images: 16-bit colour scaled to 8 bits, YBR_FULL_422 and PALETTE COLOR to RGB, 1-bit to 0/255, bare data sets recognised as DICOM', async () => {
    const us16 = await decodeImageFile(new Uint8Array(await readFile(byName('us16_rle').file)))
    const us8 = await decodeDicom(new Uint8Array(await readFile(US)))
    expect(us16.length).toBe(8)
    expect(Buffer.from(us16[3].data).equals(Buffer.from(us8[3].data))).toBe(true) // v·257 / 65535 · 255 = v
    const ybr = await decodeDicom(new Uint8Array(await readFile(byName('ybr422').file)))
    const ref = Uint8Array.from(await i32(byName('ybr422').ref!)).subarray(0, 240 * 320 * 3)
    ybrFullToRgb(ref)
    expect(ybr[0].channels).toBe(3)
    expect(diff(Int32Array.from(ybr[0].data), Int32Array.from(ref)).max).toBe(0)
    const palette = await decodeDicom(new Uint8Array(await readFile(byName('palette').file)))
    expect(palette[0].channels).toBe(3)
    expect(diff(Int32Array.from(palette[0].data), await i32(join(work, 'palette.rgb.i32'))).max).toBe(0) // pydicom's apply_color_lut, to 8 bits
    const mask = await decodeImageFile(new Uint8Array(await readFile(byName('mask1bit').file)))
    expect(mask.map((m) => [m.width, m.height, m.channels])).toEqual([
      [60, 63, 1],
      [60, 63, 1]
    ])
    expect(new Set(mask.flatMap((m) => [...m.data]))).toEqual(new Set([0, 255]))
    for (const n of ['nometa_implicit', 'nometa_explicit']) {
      const img = await decodeImageFile(new Uint8Array(await readFile(byName(n).file)))
      expect(
        img.map((m) => [m.width, m.height]),
        n
      ).toEqual([[512, 512]])
    }
  })

  it('an unsupported or broken file is refused with a sentence, never [object Object]', async () => {
    const bytes = new Uint8Array(await readFile(byName('ct_j2k').file))
    const cut = bytes.subarray(0, bytes.length - 150_000)
    await expect(decodeImageFile(cut)).rejects.toThrow(
      /^(the file cannot be read as DICOM|the JPEG 2000 decoder failed|frame 1)/
    )
    await expect(decodeImageFile(cut)).rejects.not.toThrow(/\[object Object\]/)
    // trailing bytes after the pixel data (a torn copy, padding): the whole pixel data is kept, as pydicom does
    const ct = new Uint8Array(await readFile(CT))
    const padded = new Uint8Array(ct.length + 5)
    padded.set(ct)
    padded.set([0xe0, 0x7f, 0x10, 0x00, 0x4f], ct.length)
    const a = await decodeDicom(ct)
    const b = await decodeDicom(padded)
    expect(Buffer.from(b[0].data).equals(Buffer.from(a[0].data))).toBe(true)
  })
})
