import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { chooseImporter, IMPORTERS } from '../../../../src/main/engine/data/importers'
import { pngBytes, writeImages } from '../../../fixtures/data/generate'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../../../fixtures/data/shared'

const work = await mkdtemp(join(tmpdir(), 'ff-registry-'))
afterAll(() => rm(work, { recursive: true, force: true }))

describe.skipIf(!HAVE_SHARED_DATA)('importer auto-detection by content', () => {
  it('lists every importer once', () => {
    expect(IMPORTERS.map((i) => i.name)).toEqual(['npz', 'idx', 'csv', 'dicom', 'folder'])
  })

  it('recognises npz, a class folder, a folder with one CSV, a DICOM folder; names do not matter', async () => {
    // an .npz renamed to .bin is still an npz
    await copyFile(join(SHARED_DATA, 'medmnist/retinamnist.npz'), join(work, 'retina.bin'))
    expect((await chooseImporter(join(work, 'retina.bin'))).name).toBe('npz')
    const png = await pngBytes(8, 1)
    await writeImages(join(work, 'classes'), ['cat/1.png', 'dog/2.png'], png)
    expect((await chooseImporter(join(work, 'classes'))).name).toBe('folder')
    await writeImages(join(work, 'withcsv'), ['x/1.png', 'x/2.png'], png)
    await writeFile(join(work, 'withcsv', 'labels.csv'), 'file,label\nx/1.png,a\nx/2.png,b\n')
    expect((await chooseImporter(join(work, 'withcsv'))).name).toBe('csv')
    const dcm = join(work, 'dicoms', 'ct')
    await mkdir(dcm, { recursive: true })
    await copyFile(join(SHARED_DATA, 'dicom/dicomparser/testImages/CT1_UNC.explicit_little_endian.dcm'), join(dcm, 'a'))
    await copyFile(join(SHARED_DATA, 'dicom/dicomparser/testImages/CT1_UNC.implicit_little_endian.dcm'), join(dcm, 'b'))
    expect((await chooseImporter(join(work, 'dicoms'))).name).toBe('dicom')
    expect((await chooseImporter(join(work, 'classes'), 'csv')).name).toBe('csv')
    await expect(chooseImporter(join(work, 'classes'), 'tiff' as 'csv')).rejects.toThrow(/unknown format "tiff"/)
  })
})
