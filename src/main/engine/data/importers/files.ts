/**
 * Walking the chosen folder and loading one image file; shared by the folder,
 * DICOM and CSV importers. Paths in messages are relative to the chosen folder.
 */
import { open, readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { decodeImageFile, sniff, type FileKind, type RawImage } from '../image'

/** Every regular file below `root` (hidden files and folders skipped), as sorted '/'-separated relative paths. */
export async function walk(root: string): Promise<string[]> {
  const out: string[] = []
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true })
    for (const e of entries) {
      if (e.name.startsWith('.')) continue
      const full = join(dir, e.name)
      if (e.isDirectory()) await visit(full)
      else if (e.isFile()) out.push(relative(root, full).split(sep).join('/'))
    }
  }
  await visit(root)
  return out.sort()
}

/** The kind of a file from its first 132 bytes. */
export async function sniffFile(path: string): Promise<FileKind> {
  const fh = await open(path, 'r')
  try {
    const buf = new Uint8Array(132)
    const { bytesRead } = await fh.read(buf, 0, 132, 0)
    return sniff(buf.subarray(0, bytesRead))
  } finally {
    await fh.close()
  }
}

/** Reads and decodes one file into 8-bit images (several for a multi-frame DICOM). */
export async function loadFile(path: string): Promise<RawImage[]> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (e) {
    // fs messages carry the absolute path; report the error code only.
    throw new Error(`cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'I/O error'})`)
  }
  return decodeImageFile(new Uint8Array(bytes))
}

/** The single top-level CSV/TSV file of a folder, if there is exactly one. */
export async function soleManifest(dir: string): Promise<string | undefined> {
  try {
    const csvs = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && /\.(csv|tsv)$/i.test(e.name))
    return csvs.length === 1 ? join(dir, csvs[0].name) : undefined
  } catch {
    return undefined
  }
}
