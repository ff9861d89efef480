/**
 * MNIST-style idx files (`<prefix>-images-idx3-ubyte[.gz]` with
 * `<prefix>-labels-idx1-ubyte[.gz]`), e.g. Debian's Fashion-MNIST. `train`
 * files become the training split (a validation split is carved from it by
 * import.ts), `t10k` / `test` files the test split.
 */
import { readFile, readdir, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { SplitName } from '../types'
import type { Importer, ImportIssue, ImportSource, SourceItem } from './types'
import { errorText } from '../../../../shared/errors'

const IMAGES = /^(.*?)[-.]?images[-.]idx3[-.]ubyte(\.gz)?$/
const FASHION = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot'
]

async function readIdx(file: string, magic: number): Promise<{ dims: number[]; data: Uint8Array }> {
  let b = new Uint8Array(await readFile(file))
  if (b[0] === 0x1f && b[1] === 0x8b) b = new Uint8Array(gunzipSync(b))
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (b.length < 8 || dv.getUint32(0, false) !== magic)
    throw new Error(`${basename(file)}: not an idx file with magic 0x${magic.toString(16).padStart(8, '0')}`)
  const nd = magic & 0xff
  const dims = Array.from({ length: nd }, (_, i) => dv.getUint32(4 + 4 * i, false))
  const data = b.subarray(4 + 4 * nd)
  const want = dims.reduce((a, x) => a * x, 1)
  if (data.length < want) throw new Error(`${basename(file)}: truncated (${data.length} of ${want} bytes)`)
  return { dims, data }
}

async function imageFiles(input: string): Promise<string[]> {
  const s = await stat(input)
  if (s.isFile()) return IMAGES.test(basename(input)) ? [input] : []
  return (await readdir(input))
    .filter((f) => IMAGES.test(f))
    .sort()
    .map((f) => join(input, f))
}

export const idxImporter: Importer = {
  name: 'idx',
  async detect(input) {
    try {
      const files = await imageFiles(input)
      if (files.length === 0) return false
      await readIdx(files[0], 0x803)
      return true
    } catch {
      return false
    }
  },
  async scan(opts): Promise<ImportSource> {
    const files = await imageFiles(opts.input)
    if (files.length === 0) throw new Error('no *-images-idx3-ubyte[.gz] file found')
    const root = (await stat(opts.input)).isFile() ? dirname(opts.input) : opts.input
    const arrays: { dims: number[]; data: Uint8Array }[] = []
    const items: SourceItem[] = []
    let maxLabel = 0
    const issues: ImportIssue[] = []
    for (const f of files) {
      // One unusable pair of files is skipped and reported; the other pairs are imported.
      const name = basename(f)
      const labelsFile = join(dirname(f), name.replace('images-idx3', 'labels-idx1'))
      let im: { dims: number[]; data: Uint8Array }
      let lb: { dims: number[]; data: Uint8Array }
      try {
        im = await readIdx(f, 0x803)
      } catch (e) {
        issues.push({ file: name, reason: `file skipped: ${errorText(e)}` })
        continue
      }
      try {
        lb = await readIdx(labelsFile, 0x801)
      } catch (e) {
        issues.push({
          file: name,
          reason: `file skipped: its labels file ${basename(labelsFile)} is missing or unreadable (${errorText(e)})`
        })
        continue
      }
      if (lb.dims[0] !== im.dims[0]) {
        issues.push({
          file: name,
          reason: `file skipped: ${im.dims[0]} images but ${lb.dims[0]} labels in ${basename(labelsFile)}`
        })
        continue
      }
      if (arrays.length > 0 && (im.dims[1] !== arrays[0].dims[1] || im.dims[2] !== arrays[0].dims[2])) {
        issues.push({
          file: name,
          reason: `file skipped: its images are ${im.dims[1]}×${im.dims[2]}, unlike the first file's ${arrays[0].dims[1]}×${arrays[0].dims[2]}`
        })
        continue
      }
      const prefix = IMAGES.exec(name)![1].toLowerCase()
      const split: SplitName = /t10k|test/.test(prefix) ? 'test' : /val/.test(prefix) ? 'val' : 'train'
      const ref = arrays.length
      arrays.push(im)
      for (let i = 0; i < im.dims[0]; i++) {
        maxLabel = Math.max(maxLabel, lb.data[i])
        items.push({ file: `${name}[${i}]`, label: lb.data[i], split, ref: ref * 2 ** 32 + i })
      }
    }
    if (arrays.length === 0)
      throw new Error(`no usable idx images file: ${issues.map((i) => `${i.file}: ${i.reason}`).join('; ')}`)
    const fashion = /fashion/i.test(root) && maxLabel === 9
    return {
      format: 'idx',
      task: 'single',
      classes: Array.from({ length: maxLabel + 1 }, (_, k) => (fashion ? FASHION[k] : String(k))),
      items,
      issues,
      nativeSize: arrays[0].dims[1],
      nativeChannels: 1,
      async load(item) {
        const ref = item.ref as number
        const a = arrays[Math.floor(ref / 2 ** 32)]
        const i = ref % 2 ** 32
        const [, h, w] = a.dims
        return [{ data: a.data.subarray(i * h * w, (i + 1) * h * w), width: w, height: h, channels: 1 }]
      }
    }
  }
}
