import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { convertChannels, decodeImageFile, preprocess, sniff } from '../../../../src/main/engine/data/image'
import { SYSTEM_PYTHON } from '../../../fixtures/data/shared'

const work = await mkdtemp(join(tmpdir(), 'ff-image-'))
afterAll(() => rm(work, { recursive: true, force: true }))
const SCRIPT = fileURLToPath(new URL('../../../fixtures/data/pil_images.py', import.meta.url))

describe('image decoding against Pillow', () => {
  const ref = JSON.parse(execFileSync(SYSTEM_PYTHON, [SCRIPT, work], { encoding: 'utf8' })) as Record<
    string,
    { channels: 1 | 3; w: number; h: number; pixels: number[] }
  >

  it.each(Object.keys(ref).map((k) => [k]))('%s decodes to the same pixels (JPEG within 2 levels)', async (name) => {
    const [img] = await decodeImageFile(new Uint8Array(await readFile(join(work, name))))
    const r = ref[name]
    expect([img.width, img.height, img.channels]).toEqual([r.w, r.h, r.channels])
    const worst = r.pixels.reduce((m, v, i) => Math.max(m, Math.abs(v - img.data[i])), 0)
    expect(worst).toBeLessThanOrEqual(name.endsWith('.jpg') ? 2 : 0)
  })

  it('recognises files by content, not extension', async () => {
    expect(sniff(new Uint8Array(await readFile(join(work, 'rgb.png'))))).toBe('png')
    expect(sniff(new Uint8Array(await readFile(join(work, 'rgb.tif'))))).toBe('tiff')
    expect(sniff(new TextEncoder().encode('hello, not an image'))).toBe('unknown')
  })
})

describe('preprocess', () => {
  it('keeps a same-size image byte for byte and converts channels (BT.601 luma, gray repeated)', async () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    expect([...(await preprocess({ data: rgb, width: 2, height: 2, channels: 3 }, 2, 3))]).toEqual([...rgb])
    expect([...convertChannels(rgb, 3, 1)]).toEqual([76, 150, 29, 18])
    expect([...convertChannels(Uint8Array.from([7, 9]), 1, 3)]).toEqual([7, 7, 7, 9, 9, 9])
  })
  it('resizes a flat image to the requested size and channels', async () => {
    const out = await preprocess({ data: new Uint8Array(10 * 6).fill(77), width: 10, height: 6, channels: 1 }, 4, 3)
    expect(out.length).toBe(4 * 4 * 3)
    expect(new Set(out)).toEqual(new Set([77]))
  })
})
