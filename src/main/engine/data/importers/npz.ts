/**
 * MedMNIST-style `.npz` archives: a zip (stored or deflated members) of `.npy`
 * arrays named `<split>_images` (N×H×W or N×H×W×3 uint8) and `<split>_labels`
 * ((N,), (N,1) single-label or (N,L) multi-label). The archive's splits are kept.
 */
import { readFile, open } from 'node:fs/promises'
import { basename } from 'node:path'
import { unzipSync } from 'fflate'
import { parseNpy, type NpyArray } from '../npy'
import type { SplitName } from '../types'
import type { Importer, ImportIssue, ImportSource, SourceItem } from './types'
import { errorText } from '../../../../shared/errors'

const SPLITS: SplitName[] = ['train', 'val', 'test']

async function head(file: string, n: number): Promise<Uint8Array> {
  const fh = await open(file, 'r')
  try {
    const buf = new Uint8Array(n)
    const { bytesRead } = await fh.read(buf, 0, n, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

export const npzImporter: Importer = {
  name: 'npz',
  async detect(input) {
    try {
      const b = await head(input, 64)
      // A zip whose first member is a .npy array.
      return (
        b[0] === 0x50 &&
        b[1] === 0x4b &&
        b[2] === 3 &&
        b[3] === 4 &&
        new TextDecoder().decode(b.subarray(30, 30 + (b[26] | (b[27] << 8)))).endsWith('.npy')
      )
    } catch {
      return false
    }
  },
  async scan(opts): Promise<ImportSource> {
    const name = basename(opts.input)
    let members: Record<string, Uint8Array>
    try {
      members = unzipSync(new Uint8Array(await readFile(opts.input)))
    } catch (e) {
      throw new Error(`${name}: not a readable zip/npz archive (${errorText(e)})`)
    }
    // An array that cannot be read, or that is not one of <split>_images / <split>_labels, is
    // skipped and named in the report; only the images and labels are needed.
    const issues: ImportIssue[] = []
    const wanted = new Set(SPLITS.flatMap((s) => [`${s}_images`, `${s}_labels`]))
    const arrays = new Map<string, NpyArray>()
    for (const [k, v] of Object.entries(members)) {
      const key = k.replace(/\.npy$/, '')
      if (!wanted.has(key)) {
        issues.push({
          file: `${name}/${k}`,
          reason: `array skipped: only ${SPLITS.map((s) => `${s}_images/${s}_labels`).join(', ')} are imported`
        })
        continue
      }
      try {
        arrays.set(key, parseNpy(v))
      } catch (e) {
        issues.push({ file: `${name}/${k}`, reason: `array skipped: ${errorText(e)}` })
      }
    }
    const items: SourceItem[] = []
    const images: NpyArray[] = []
    const present = SPLITS.filter((s) => arrays.has(`${s}_images`))
    if (present.length === 0)
      throw new Error(
        `${name}: no readable train_images / val_images / test_images array (found ${Object.keys(members).join(', ') || 'no arrays'}${issues.length ? `; ${issues.map((i) => `${i.file}: ${i.reason}`).join('; ')}` : ''})`
      )
    let multiLabels = 0
    let maxLabel = 0
    let side = 0
    let channels: 1 | 3 = 1
    const skipSplit = (s: SplitName, reason: string): void =>
      void issues.push({ file: `${name}/${s}_images.npy`, reason: `split ${s} skipped: ${reason}` })
    for (const s of present) {
      const im = arrays.get(`${s}_images`)!
      const lb = arrays.get(`${s}_labels`)
      if (!lb) {
        skipSplit(s, `it has no readable ${s}_labels array`)
        continue
      }
      if (im.dtype !== '|u1') {
        skipSplit(s, `${s}_images has dtype ${im.dtype}, expected uint8 (|u1)`)
        continue
      }
      if (im.shape.length !== 3 && !(im.shape.length === 4 && (im.shape[3] === 3 || im.shape[3] === 1))) {
        skipSplit(s, `${s}_images has shape (${im.shape.join(', ')}), expected (N, H, W) or (N, H, W, 3)`)
        continue
      }
      const n = im.shape[0]
      if (lb.shape[0] !== n) {
        skipSplit(s, `${s}_labels has ${lb.shape[0]} rows for ${n} images`)
        continue
      }
      const width = lb.shape.length === 1 ? 1 : lb.shape[1]
      if (
        images.length > 0 &&
        (im.shape[1] !== side || (im.shape.length === 4 && im.shape[3] === 3 ? 3 : 1) !== channels)
      ) {
        skipSplit(
          s,
          `${s}_images are ${im.shape[1]} px with ${im.shape.length === 4 ? im.shape[3] : 1} channel(s), unlike the earlier splits (${side} px, ${channels})`
        )
        continue
      }
      if (width > 1) multiLabels = width
      side = im.shape[1]
      channels = im.shape.length === 4 && im.shape[3] === 3 ? 3 : 1
      const ref = images.length
      images.push(im)
      for (let i = 0; i < n; i++) {
        let label: number | Float32Array
        if (width === 1) {
          label = Number(lb.data[i])
          if (!Number.isInteger(label) || label < 0) {
            issues.push({
              file: `${s}_images[${i}]`,
              reason: `its label ${s}_labels[${i}] = ${label} is not a class index (an integer ≥ 0)`
            })
            continue
          }
          maxLabel = Math.max(maxLabel, label)
        } else label = Float32Array.from(lb.data.subarray(i * width, (i + 1) * width) as ArrayLike<number>)
        items.push({ file: `${s}_images[${i}]`, label, split: s, ref: ref * 2 ** 32 + i })
      }
    }
    if (images.length === 0)
      throw new Error(`${name}: no split could be used: ${issues.map((i) => `${i.file}: ${i.reason}`).join('; ')}`)
    const count = multiLabels || maxLabel + 1
    return {
      format: 'npz',
      task: multiLabels ? 'multilabel' : 'single',
      classes: Array.from({ length: count }, (_, k) => String(k)),
      items,
      issues,
      nativeSize: side,
      nativeChannels: channels,
      async load(item) {
        const ref = item.ref as number
        const im = images[Math.floor(ref / 2 ** 32)]
        const i = ref % 2 ** 32
        const [, h, w] = im.shape
        const c = im.shape.length === 4 ? im.shape[3] : 1
        const px = h * w * c
        return [
          {
            data: (im.data as Uint8Array).subarray(i * px, (i + 1) * px),
            width: w,
            height: h,
            channels: c === 3 ? 3 : 1
          }
        ]
      }
    }
  }
}
