// The 68 DICOM test files that ship with pydicom (Debian python3-pydicom, installed by .ci/run):
// every file whose pixels pydicom + GDCM decodes is imported with the same pixel values (exactly
// for lossless transfer syntaxes, within one grey level for lossy ones: in practice 49 of 49 are
// exact or within 1), one file GDCM itself calls invalid is refused, and every other file is
// reported with a reason that is a sentence.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeFrame, parseDicomPixels, unsupportedReason } from '../../../../src/main/engine/data/dicom'
import { decodeImageFile } from '../../../../src/main/engine/data/image'
import { SYSTEM_PYTHON } from '../../../fixtures/data/shared'
import { errorText } from '../../../../src/shared/errors'

const DUMP = fileURLToPath(new URL('../../../fixtures/data/pydicom_testfiles_dump.py', import.meta.url))
const HAVE = existsSync(SYSTEM_PYTHON) || process.env.CI === 'true'
const LOSSY = new Set([
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.203'
])

// GDCM "decodes" this one only after reporting the codestream invalid ("Invalid number of tiles :
// 4292730882 x 1": its SIZ segment carries the bytes of a sequence delimiter, FFFE,E0DD, so the
// image would be 0xDDE00100 pixels wide) and answers values that are no image; Pillow refuses it
// too. We report it instead, with this reason.
const REFUSED: Record<string, RegExp> = {
  'JPEG2000-embedded-sequence-delimiter.dcm':
    /^the JPEG 2000 decoder could not read the frame's header \(corrupt or unsupported codestream\)$/
}

interface Rec {
  file: string
  ts?: string
  status: 'ok' | 'nopixel' | 'error'
  shape?: number[]
  pi?: string
  bin?: string
  reason?: string
}

const work = await mkdtemp(join(tmpdir(), 'ff-pydicom-files-'))
afterAll(() => rm(work, { recursive: true, force: true }))

async function ours(file: string): Promise<Int32Array> {
  const { info, ds, pixel } = parseDicomPixels(new Uint8Array(await readFile(file)))
  const why = unsupportedReason(info)
  if (why) throw new Error(why)
  const parts: Int32Array[] = []
  for (let i = 0; i < info.frames; i++) parts.push((await decodeFrame(ds, pixel, info, i)).values)
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

describe.skipIf(!HAVE)("pydicom's own DICOM test files", () => {
  it('what pydicom + GDCM decodes, we decode to the same pixels; the rest gets a sentence', async () => {
    const recs = execFileSync(SYSTEM_PYTHON, [DUMP, work], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 << 20
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Rec)
    expect(recs.length).toBeGreaterThanOrEqual(60)
    const wrong: string[] = []
    let decoded = 0
    for (const r of recs) {
      const name = basename(r.file)
      if (REFUSED[name]) {
        const outcome = await decodeImageFile(new Uint8Array(await readFile(r.file))).then(
          () => 'decoded',
          (e: Error) => e.message
        )
        if (!REFUSED[name].test(outcome)) wrong.push(`${name}: expected a refusal, got "${outcome}"`)
        continue
      }
      if (r.status === 'ok') {
        let mine: Int32Array
        try {
          mine = await ours(r.file)
        } catch (e) {
          wrong.push(`${name} (${r.ts}, ${r.pi}): pydicom decodes it, we say: ${errorText(e)}`)
          continue
        }
        const b = await readFile(r.bin!)
        const ref = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
        if (mine.length !== ref.length) {
          wrong.push(`${name}: ${mine.length} values, pydicom ${ref.length}`)
          continue
        }
        let max = 0
        for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(mine[i] - ref[i]))
        if (max > (LOSSY.has(r.ts!) ? 1 : 0))
          wrong.push(`${name} (${r.ts}, ${r.pi}): differs from pydicom by up to ${max}`)
        else decoded++
      } else {
        // not decodable by pydicom either: we must say why, in a sentence, and never crash
        const outcome = await decodeImageFile(new Uint8Array(await readFile(r.file))).then(
          () => 'decoded',
          (e: Error) => e.message
        )
        if (outcome !== 'decoded' && (!/^[A-Za-z0-9].{12,}/.test(outcome) || outcome.includes('[object Object]')))
          wrong.push(`${name}: reason "${outcome}" is not a sentence`)
      }
    }
    expect(wrong).toEqual([])
    expect(decoded).toBe(recs.filter((r) => r.status === 'ok' && !REFUSED[basename(r.file)]).length)
    expect(decoded).toBeGreaterThanOrEqual(49)
  }, 120_000)
})
