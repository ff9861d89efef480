// End to end through the CLI: `fissionfusion import` (an 'import' job in an engine process)
// on the bad-input folder, and a small `fissionfusion bench data`.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { makeBadFolder } from '../../fixtures/data/generate'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../../fixtures/data/shared'
import { cliJson } from '../../fixtures/process'

const work = mkdtempSync(join(tmpdir(), 'ff-import-cli-'))
const ws = join(work, 'ws')
afterAll(() => rmSync(work, { recursive: true, force: true }))

const cli = (...args: string[]): Promise<unknown> => cliJson(ws, 'cpu', args)

describe.skipIf(!HAVE_SHARED_DATA)('import and bench data commands', () => {
  it('import --json: bad files listed, the rest imported, exit code 0, dataset recorded as ready', async () => {
    const root = join(work, 'bad')
    const { good, bad } = await makeBadFolder(
      root,
      join(SHARED_DATA, 'dicom/dicomparser/testImages/deflate/report_dfl')
    )
    const r = (await cli('import', root, '--csv', join(root, 'labels.csv'), '--size', '16', '--name', 'bad input')) as {
      dataset: {
        id: string
        name: string
        classes: string[]
        counts: Record<string, number>
        perClass: Record<string, Record<string, number>>
      }
      imported: number
      failed: number
      errors: { file: string; reason: string }[]
    }
    expect(r.imported).toBe(good.length)
    expect(r.failed).toBe(bad.length + 1)
    expect(r.errors.map((e) => e.file).sort()).toEqual([...bad, '../outside.png'].sort())
    expect(r.dataset.name).toBe('bad input')
    expect(r.dataset.classes).toEqual(['a', 'b'])
    expect(r.dataset.counts.train + r.dataset.counts.val + r.dataset.counts.test).toBe(good.length)
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    try {
      const d = store.datasets.require(r.dataset.id)
      expect(d.status).toBe('ready')
      expect(d.format).toBe('csv')
      expect(d.counts).toEqual(r.dataset.counts)
      expect(existsSync(join(workspace.datasetDir(d.id), 'meta.json'))).toBe(true)
    } finally {
      store.close()
    }
  })

  it('bench data --json reports throughput and a bounded peak RSS', async () => {
    const r = (await cli('bench', 'data', '--images', '300', '--size', '32', '--source', 'synthetic')) as {
      images: number
      cacheBytes: number
      batches: number
      peakRssMiB: number
      epochImagesPerSecond: number
    }
    expect(r.images).toBe(300)
    expect(r.cacheBytes).toBe(300 * 32 * 32 * 3)
    expect(r.batches).toBe(3)
    expect(r.peakRssMiB).toBeGreaterThan(0)
    expect(r.peakRssMiB).toBeLessThan(1536)
    expect(r.epochImagesPerSecond).toBeGreaterThan(0)
  })
})
