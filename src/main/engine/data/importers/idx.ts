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
import type { Importer, ImportSource, SourceItem } from './types'

const IMAGES = /^(.*?)[-.]?images[-.]idx3[-.]ubyte(\.gz)?$/
const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

async function readIdx(file: string, magic: number): Promise<{ dims: number[]; data: Uint8Array }> {
  let b = new Uint8Array(await readFile(file))
  if (b[0] === 0x1f && b[1] === 0x8b) b = new Uint8Array(gunzipSync(b))
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  if (b.length < 8 || dv.getUint32(0, false) !== magic) throw new Error(`${basename(file)}: not an idx file with magic 0x${magic.toString(16).padStart(8, '0')}`)
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
  return (await readdir(input)).filter((f) => IMAGES.test(f)).sort().map((f) => join(input, f))
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
    for (const f of files) {
      const name = basename(f)
      const labelsFile = join(dirname(f), name.replace('images-idx3', 'labels-idx1'))
      const im = await readIdx(f, 0x803)
      const lb = await readIdx(labelsFile, 0x801).catch((e: Error) => {
        throw new Error(`${name}: its labels file ${basename(labelsFile)} is missing or unreadable (${e.message})`)
      })
      if (lb.dims[0] !== im.dims[0]) throw new Error(`${name}: ${im.dims[0]} images but ${lb.dims[0]} labels`)
      const prefix = IMAGES.exec(name)![1].toLowerCase()
      const split: SplitName = /t10k|test/.test(prefix) ? 'test' : /val/.test(prefix) ? 'val' : 'train'
      const ref = arrays.length
      arrays.push(im)
      for (let i = 0; i < im.dims[0]; i++) {
        maxLabel = Math.max(maxLabel, lb.data[i])
        items.push({ file: `${name}[${i}]`, label: lb.data[i], split, ref: ref * 2 ** 32 + i })
      }
    }
    const fashion = /fashion/i.test(root) && maxLabel === 9
    return {
      format: 'idx',
      task: 'single',
      classes: Array.from({ length: maxLabel + 1 }, (_, k) => (fashion ? FASHION[k] : String(k))),
      items,
      issues: [],
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
