/**
 * Sequential DCT JPEG with Huffman coding (ITU T.81 baseline and extended, SOF0 / SOF1) at 8 or
 * 12 bits per sample: DICOM's "JPEG extended 12-bit" (1.2.840.10008.1.2.4.51). The installed
 * libjpeg-turbo codec is built for 8-bit samples only, so 12-bit frames are decoded here.
 *
 * Not supported (each refused with a reason): progressive (SOF2), arithmetic coding (SOF9+),
 * hierarchical frames. The inverse DCT is the exact separable one in double precision; libjpeg's
 * integer IDCT (what GDCM uses) rounds differently, so lossy results may differ by one grey level.
 */

/** A decoded JPEG frame. */
export interface Jpeg12Frame {
  width: number
  height: number
  components: number
  /** Sample precision in bits (8 or 12). */
  precision: number
  /** Samples interleaved per pixel: 1 byte each at 8 bits, 2 little-endian bytes at 12. */
  bytes: Uint8Array
  /** True when 3 components were converted from YCbCr to RGB. */
  transformed: boolean
}

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63
]

/** cos((2x + 1) u π / 16) · C(u) / 2, indexed [x * 8 + u]. */
const COS = (() => {
  const t = new Float64Array(64)
  for (let x = 0; x < 8; x++)
    for (let u = 0; u < 8; u++)
      t[x * 8 + u] = ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2
  return t
})()

interface Huffman {
  /** code → value, keyed by (length << 16) | code. */
  map: Map<number, number>
  maxLength: number
}

function buildHuffman(counts: Uint8Array, symbols: Uint8Array): Huffman {
  const map = new Map<number, number>()
  let code = 0
  let k = 0
  let maxLength = 0
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]; i++) {
      map.set((len << 16) | code, symbols[k++])
      maxLength = len
      code++
    }
    code <<= 1
  }
  return { map, maxLength }
}

interface Component {
  id: number
  h: number
  v: number
  tq: number
  /** Blocks per line and per column, padded to whole MCUs. */
  bw: number
  bh: number
  /** Coefficient blocks, 64 per block. */
  coef: Int32Array
  pred: number
  dc?: Huffman
  ac?: Huffman
}

/** What the headers before the first scan say: precision, components, and the colour markers. */
export interface JpegHeader {
  /** Sample precision (0 when no frame header was found). */
  precision: number
  components: number
  /** A JFIF APP0 marker (implies YCbCr for 3 components). */
  jfif: boolean
  /** The Adobe APP14 transform flag (0: none, 1: YCbCr), when present. */
  adobe?: number
}

/** Reads the markers before the first scan (cheap: no entropy-coded data is touched). */
export function jpegHeader(b: Uint8Array): JpegHeader {
  const h: JpegHeader = { precision: 0, components: 0, jfif: false }
  for (let i = 2; i + 4 < b.length;) {
    if (b[i] !== 0xff) break
    const m = b[i + 1]
    if (m === 0xff) {
      i++
      continue
    }
    if (m === 0xda || m === 0xd9) break
    const len = (b[i + 2] << 8) | b[i + 3]
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      h.precision = b[i + 4]
      h.components = b[i + 9]
    } else if (m === 0xe0 && String.fromCharCode(...b.subarray(i + 4, i + 8)) === 'JFIF') h.jfif = true
    else if (m === 0xee && len >= 14 && String.fromCharCode(...b.subarray(i + 4, i + 9)) === 'Adobe')
      h.adobe = b[i + 15]
    i += 2 + len
  }
  return h
}

/** The sample precision of a JPEG stream's frame header (0 when none is found). */
export function jpegPrecision(b: Uint8Array): number {
  return jpegHeader(b).precision
}

/**
 * Decodes a baseline or extended sequential Huffman JPEG (8 or 12 bits per sample). Three
 * components are converted from YCbCr unless `transform` says otherwise, an Adobe marker says
 * transform 0, or they are named R, G, B.
 */
export function decodeJpeg12(b: Uint8Array, o: { transform?: boolean } = {}): Jpeg12Frame {
  if (b[0] !== 0xff || b[1] !== 0xd8) throw new Error('the JPEG data does not start with an SOI marker')
  const quant: Int32Array[] = []
  const dcTables: Huffman[] = []
  const acTables: Huffman[] = []
  let comps: Component[] = []
  let width = 0
  let height = 0
  let precision = 8
  let restart = 0
  let hmax = 1
  let vmax = 1
  let adobe: number | undefined
  let pos = 2
  let scanned = false
  const u16 = (p: number): number => (b[p] << 8) | b[p + 1]
  while (pos < b.length) {
    if (b[pos] !== 0xff) {
      pos++
      continue
    }
    const marker = b[pos + 1]
    if (marker === 0xff) {
      pos++
      continue
    }
    if (marker === 0xd9) break
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2
      continue
    }
    const len = u16(pos + 2)
    const seg = pos + 4
    const end = pos + 2 + len
    if (end > b.length) throw new Error('the JPEG data is truncated inside a marker segment')
    if (marker === 0xdb) {
      for (let p = seg; p < end;) {
        const pq = b[p] >> 4
        const tq = b[p] & 15
        const t = new Int32Array(64)
        for (let k = 0; k < 64; k++) t[ZIGZAG[k]] = pq ? u16(p + 1 + 2 * k) : b[p + 1 + k]
        quant[tq] = t
        p += 1 + (pq ? 128 : 64)
      }
    } else if (marker === 0xc4) {
      for (let p = seg; p < end;) {
        const tc = b[p] >> 4
        const th = b[p] & 15
        const counts = b.subarray(p + 1, p + 17)
        const n = counts.reduce((a, c) => a + c, 0)
        const table = buildHuffman(counts, b.subarray(p + 17, p + 17 + n))
        if (tc === 0) dcTables[th] = table
        else acTables[th] = table
        p += 17 + n
      }
    } else if (marker === 0xc0 || marker === 0xc1) {
      precision = b[seg]
      height = u16(seg + 1)
      width = u16(seg + 3)
      if (precision !== 8 && precision !== 12) throw new Error(`JPEG sample precision ${precision} is not 8 or 12`)
      if (height === 0) throw new Error('JPEG frames with the height given after the scan (DNL) are not supported')
      const n = b[seg + 5]
      comps = []
      for (let c = 0; c < n; c++) {
        const o = seg + 6 + 3 * c
        comps.push({
          id: b[o],
          h: b[o + 1] >> 4,
          v: b[o + 1] & 15,
          tq: b[o + 2],
          bw: 0,
          bh: 0,
          coef: new Int32Array(0),
          pred: 0
        })
      }
      hmax = Math.max(...comps.map((c) => c.h))
      vmax = Math.max(...comps.map((c) => c.v))
      const mcusX = Math.ceil(width / (8 * hmax))
      const mcusY = Math.ceil(height / (8 * vmax))
      for (const c of comps) {
        c.bw = mcusX * c.h
        c.bh = mcusY * c.v
        c.coef = new Int32Array(c.bw * c.bh * 64)
      }
    } else if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const kinds: Record<number, string> = {
        0xc2: 'progressive',
        0xc3: 'lossless',
        0xc9: 'arithmetic-coded',
        0xca: 'arithmetic progressive',
        0xcb: 'arithmetic lossless'
      }
      throw new Error(`${kinds[marker] ?? `SOF${marker - 0xc0}`} JPEG is not supported by the 12-bit decoder`)
    } else if (marker === 0xdd) {
      restart = u16(seg)
    } else if (marker === 0xee && len >= 14 && String.fromCharCode(...b.subarray(seg, seg + 5)) === 'Adobe') {
      adobe = b[seg + 11]
    } else if (marker === 0xda) {
      if (comps.length === 0) throw new Error('JPEG scan before its frame header')
      const n = b[seg]
      const scan: Component[] = []
      for (let k = 0; k < n; k++) {
        const c = comps.find((x) => x.id === b[seg + 1 + 2 * k])
        if (!c) throw new Error('JPEG scan names an unknown component')
        c.dc = dcTables[b[seg + 2 + 2 * k] >> 4]
        c.ac = acTables[b[seg + 2 + 2 * k] & 15]
        if (!c.dc || !c.ac) throw new Error('JPEG scan uses a Huffman table that was not defined')
        scan.push(c)
      }
      pos = decodeScan(b, end, scan, restart, width, height, hmax, vmax)
      scanned = true
      continue
    }
    pos = end
  }
  if (!scanned) throw new Error('the JPEG data holds no scan')
  for (const c of comps) if (!quant[c.tq]) throw new Error(`JPEG quantisation table ${c.tq} is missing`)
  const n = comps.length
  const maxv = (1 << precision) - 1
  const shift = 1 << (precision - 1)
  const planes = comps.map((c) => idctComponent(c, quant[c.tq], shift, maxv))
  const samples = new Int32Array(width * height * n)
  for (let k = 0; k < n; k++) {
    const c = comps[k]
    const fx = hmax / c.h
    const fy = vmax / c.v
    // 2:1 chroma is upsampled like libjpeg's default ("fancy", triangular); other ratios replicate
    const cw = Math.ceil((width * c.h) / hmax)
    const ch = Math.ceil((height * c.v) / vmax)
    const fancy = cw > 1 && fx === 2 && (fy === 1 || fy === 2)
    const plane = fancy ? fancyUpsample(planes[k], c.bw * 8, cw, ch, fy) : planes[k]
    const lineW = fancy ? cw * 2 : c.bw * 8
    for (let y = 0; y < height; y++) {
      const sy = fancy ? y : Math.floor((y * c.v) / vmax)
      for (let x = 0; x < width; x++)
        samples[(y * width + x) * n + k] = plane[sy * lineW + (fancy ? x : Math.floor((x * c.h) / hmax))]
    }
  }
  // Three components are YCbCr unless an Adobe marker says otherwise or they are named R, G, B.
  const transformed =
    n === 3 && (o.transform ?? (adobe !== 0 && !(comps[0].id === 0x52 && comps[1].id === 0x47 && comps[2].id === 0x42)))
  if (transformed) {
    const half = shift
    for (let i = 0; i < samples.length; i += 3) {
      const y = samples[i]
      const cb = samples[i + 1] - half
      const cr = samples[i + 2] - half
      samples[i] = clamp(Math.round(y + 1.402 * cr), maxv)
      samples[i + 1] = clamp(Math.round(y - 0.344136 * cb - 0.714136 * cr), maxv)
      samples[i + 2] = clamp(Math.round(y + 1.772 * cb), maxv)
    }
  }
  let bytes: Uint8Array
  if (precision === 8) bytes = Uint8Array.from(samples)
  else {
    bytes = new Uint8Array(samples.length * 2)
    for (let i = 0; i < samples.length; i++) {
      bytes[2 * i] = samples[i] & 0xff
      bytes[2 * i + 1] = samples[i] >> 8
    }
  }
  return { width, height, components: n, precision, bytes, transformed }
}

/**
 * libjpeg's fancy upsampling (jdsample.c h2v1 / h2v2) of a `cw` × `ch` component plane stored with
 * `stride` values a row: twice as wide (and as tall when `fy` is 2), edge rows and columns repeated.
 */
function fancyUpsample(p: Int32Array, stride: number, cw: number, ch: number, fy: number): Int32Array {
  const ow = cw * 2
  const out = new Int32Array(ow * ch * fy)
  const row = new Int32Array(cw)
  for (let y = 0; y < ch; y++) {
    for (let v = 0; v < fy; v++) {
      const o = (y * fy + v) * ow
      if (fy === 1) {
        const r = y * stride
        out[o] = p[r]
        out[o + 1] = (p[r] * 3 + p[r + 1] + 2) >> 2
        for (let i = 1; i < cw - 1; i++) {
          const t = p[r + i] * 3
          out[o + 2 * i] = (t + p[r + i - 1] + 1) >> 2
          out[o + 2 * i + 1] = (t + p[r + i + 1] + 2) >> 2
        }
        out[o + 2 * cw - 2] = (p[r + cw - 1] * 3 + p[r + cw - 2] + 1) >> 2
        out[o + 2 * cw - 1] = p[r + cw - 1]
        continue
      }
      // vertical: 3/4 this row + 1/4 the neighbour (above for the upper output row, below for the lower)
      const r0 = y * stride
      const r1 = Math.min(ch - 1, Math.max(0, v === 0 ? y - 1 : y + 1)) * stride
      for (let i = 0; i < cw; i++) row[i] = p[r0 + i] * 3 + p[r1 + i]
      out[o] = (row[0] * 4 + 8) >> 4
      out[o + 1] = (row[0] * 3 + row[1] + 7) >> 4
      for (let i = 1; i < cw - 1; i++) {
        out[o + 2 * i] = (row[i] * 3 + row[i - 1] + 8) >> 4
        out[o + 2 * i + 1] = (row[i] * 3 + row[i + 1] + 7) >> 4
      }
      out[o + 2 * cw - 2] = (row[cw - 1] * 3 + row[cw - 2] + 8) >> 4
      out[o + 2 * cw - 1] = (row[cw - 1] * 4 + 7) >> 4
    }
  }
  return out
}

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v
}

/** Entropy-decodes one scan into the components' coefficient blocks; returns the position after it. */
function decodeScan(
  b: Uint8Array,
  start: number,
  scan: Component[],
  restart: number,
  width: number,
  height: number,
  hmax: number,
  vmax: number
): number {
  let pos = start
  let bits = 0
  let nbits = 0
  let marker = false
  const bit = (): number => {
    if (nbits === 0) {
      if (marker || pos >= b.length) return 0 // past the data: pad with zeros, as libjpeg does
      let byte = b[pos]
      if (byte === 0xff) {
        const next = b[pos + 1]
        if (next === 0) pos += 2
        else {
          marker = true
          return 0
        }
      } else pos++
      bits = byte
      nbits = 8
      byte = 0
    }
    nbits--
    return (bits >> nbits) & 1
  }
  const receive = (n: number): number => {
    let v = 0
    for (let i = 0; i < n; i++) v = (v << 1) | bit()
    return v
  }
  const extend = (v: number, n: number): number => (n === 0 ? 0 : v < 1 << (n - 1) ? v - (1 << n) + 1 : v)
  const decode = (h: Huffman): number => {
    let code = 0
    for (let len = 1; len <= h.maxLength; len++) {
      code = (code << 1) | bit()
      const v = h.map.get((len << 16) | code)
      if (v !== undefined) return v
    }
    throw new Error('corrupt JPEG data: invalid Huffman code')
  }
  const block = (c: Component, row: number, col: number): void => {
    const o = (row * c.bw + col) * 64
    const t = decode(c.dc!)
    c.pred += extend(receive(t), t)
    c.coef[o] = c.pred
    for (let k = 1; k < 64;) {
      const rs = decode(c.ac!)
      const r = rs >> 4
      const s = rs & 15
      if (s === 0) {
        if (r !== 15) break
        k += 16
        continue
      }
      k += r
      if (k > 63) break
      c.coef[o + ZIGZAG[k]] = extend(receive(s), s)
      k++
    }
  }
  const single = scan.length === 1
  // A single-component scan covers only the blocks inside the image; an interleaved one whole MCUs.
  const c0 = scan[0]
  const unitsX = single ? Math.ceil(Math.ceil((width * c0.h) / hmax) / 8) : Math.ceil(width / (8 * hmax))
  const unitsY = single ? Math.ceil(Math.ceil((height * c0.v) / vmax) / 8) : Math.ceil(height / (8 * vmax))
  const total = unitsX * unitsY
  for (const c of scan) c.pred = 0
  for (let u = 0; u < total; u++) {
    if (restart > 0 && u > 0 && u % restart === 0) {
      // Byte-align, skip to and over the RSTn marker, reset predictions.
      nbits = 0
      marker = false
      while (pos + 1 < b.length && !(b[pos] === 0xff && b[pos + 1] >= 0xd0 && b[pos + 1] <= 0xd7)) pos++
      pos += 2
      for (const c of scan) c.pred = 0
    }
    const my = Math.floor(u / unitsX)
    const mx = u % unitsX
    if (single) block(c0, my, mx)
    else
      for (const c of scan)
        for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) block(c, my * c.v + v, mx * c.h + h)
  }
  // Find the next marker (not RST, not a stuffed byte).
  while (pos + 1 < b.length && !(b[pos] === 0xff && b[pos + 1] !== 0 && !(b[pos + 1] >= 0xd0 && b[pos + 1] <= 0xd7)))
    pos++
  return pos
}

/** Dequantises and inverse-transforms every block of a component; answers its padded sample plane. */
function idctComponent(c: Component, q: Int32Array, shift: number, maxv: number): Int32Array {
  const lineW = c.bw * 8
  const out = new Int32Array(lineW * c.bh * 8)
  const f = new Float64Array(64)
  const tmp = new Float64Array(64)
  for (let row = 0; row < c.bh; row++) {
    for (let col = 0; col < c.bw; col++) {
      const o = (row * c.bw + col) * 64
      for (let k = 0; k < 64; k++) f[k] = c.coef[o + k] * q[k]
      // rows: tmp[v][x] = Σ_u f[v][u] cos(x, u)
      for (let v = 0; v < 8; v++) {
        for (let x = 0; x < 8; x++) {
          let s = 0
          for (let u = 0; u < 8; u++) s += f[v * 8 + u] * COS[x * 8 + u]
          tmp[v * 8 + x] = s
        }
      }
      for (let x = 0; x < 8; x++) {
        for (let y = 0; y < 8; y++) {
          let s = 0
          for (let v = 0; v < 8; v++) s += tmp[v * 8 + x] * COS[y * 8 + v]
          out[(row * 8 + y) * lineW + col * 8 + x] = clamp(Math.round(s + shift), maxv)
        }
      }
    }
  }
  return out
}
