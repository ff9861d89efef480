import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ImportFailure, importDataset } from '../../../../src/main/engine/data/import'
import { makeBadFolder, pngBytes, writeImages } from '../../../fixtures/data/generate'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../../../fixtures/data/shared'

const work = await mkdtemp(join(tmpdir(), 'ff-bad-'))
afterAll(() => rm(work, { recursive: true, force: true }))
const NO_PIXELS = join(SHARED_DATA, 'dicom/dicomparser/testImages/deflate/report_dfl')

describe.skipIf(!HAVE_SHARED_DATA)('bad input is reported, the rest imported', () => {
  it('folder import: truncated PNG, zero-byte file, text named .jpg, DICOM without pixels', async () => {
    const root = join(work, 'folder')
    const { good, bad } = await makeBadFolder(root, NO_PIXELS)
    const r = await importDataset({ input: root, format: 'folder', size: 16 }, { outDir: join(work, 'c1') })
    expect(r.imported).toBe(good.length)
    const byFile = new Map(r.errors.map((e) => [e.file, e.reason]))
    expect(byFile.get('a/truncated.png')).toMatch(/^corrupt or truncated PNG/)
    expect(byFile.get('a/empty.png')).toBe('empty file (0 bytes)')
    expect(byFile.get('b/notes.jpg')).toBe('not an image: content is not PNG, JPEG, TIFF, BMP or DICOM')
    expect(byFile.get('b/report.dcm')).toBe('DICOM without pixel data (no 7FE0,0010 element)')
    expect(byFile.get('labels.csv')).toBe('not inside a class folder')
    expect(r.failed).toBe(bad.length + 1)
    expect(r.meta.counts.train + r.meta.counts.val + r.meta.counts.test).toBe(good.length)
  })

  it('CSV import: the same files plus a path escaping the folder; messages use relative paths only', async () => {
    const root = join(work, 'csv')
    const { good, bad } = await makeBadFolder(root, NO_PIXELS)
    const r = await importDataset(
      { input: root, csv: join(root, 'labels.csv'), size: 16 },
      { outDir: join(work, 'c2') }
    )
    expect(r.meta.format).toBe('csv')
    expect(r.imported).toBe(good.length)
    expect(r.errors.map((e) => e.file).sort()).toEqual([...bad, '../outside.png'].sort())
    expect(r.errors.find((e) => e.file === '../outside.png')!.reason).toBe('path escapes the chosen folder')
    for (const e of r.errors) {
      expect(e.reason.length).toBeGreaterThan(0)
      expect(e.file.startsWith('/')).toBe(false)
      expect(e.reason).not.toContain(work)
    }
  })

  it('nothing usable is an error naming every file; a cancelled import leaves no cache behind', async () => {
    const root = join(work, 'none')
    await makeBadFolder(root, NO_PIXELS)
    for (const f of [
      'a/ok0.png',
      'a/ok1.png',
      'a/ok2.png',
      'a/ok3.png',
      'a/ok4.png',
      'b/ok0.png',
      'b/ok1.png',
      'b/ok2.png',
      'b/ok3.png',
      'b/ok4.png'
    ])
      await writeFile(join(root, f), 'junk')
    const failure = await importDataset({ input: root, format: 'folder' }, { outDir: join(work, 'c3') }).catch(
      (e: unknown) => e
    )
    expect(failure).toBeInstanceOf(ImportFailure)
    expect((failure as ImportFailure).message).toBe('no image could be imported')
    expect((failure as ImportFailure).errors).toHaveLength(15) // 10 junk + 4 bad + labels.csv
    const big = join(work, 'many')
    const png = await pngBytes(8, 2)
    await writeImages(
      big,
      Array.from({ length: 40 }, (_, i) => `c${i % 2}/${i}.png`),
      png
    )
    const ac = new AbortController()
    const p = importDataset(
      { input: big, size: 8 },
      {
        outDir: join(work, 'c4'),
        signal: ac.signal,
        onProgress: (pr) => pr.phase === 'images' && pr.done > 0 && ac.abort()
      }
    )
    await expect(p).rejects.toThrow()
    expect((await readdir(work)).filter((f) => f.startsWith('c4'))).toEqual([])
  })
})
