import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** Lower-case hex SHA-256 of some byte chunks, hashed in order. */
export function sha256Hex(...chunks: Uint8Array[]): string {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return h.digest('hex')
}

/** Little-endian bytes of a float32 array (a view, no copy, on little-endian hosts). */
export function float32LeBytes(a: Float32Array): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported')
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

let counter = 0

/**
 * Writes a file atomically: a temporary file beside it, fsynced, then renamed over it, so
 * readers see the old file or the whole new one, never a part.
 */
export async function writeFileAtomic(path: string, chunks: Uint8Array[]): Promise<void> {
  await fsp.mkdir(dirname(path), { recursive: true })
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`)
  try {
    const fh = await fsp.open(tmp, 'w')
    try {
      for (const c of chunks) await fh.write(c)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fsp.rename(tmp, path)
  } catch (e) {
    await fsp.rm(tmp, { force: true })
    throw e
  }
}
