/**
 * The one way the engine writes files that must survive a crash or a full disk: a temporary
 * file, fsync, rename over the target, fsync of the folder. Checkpoints, soups, dataset cache
 * chunks, exports and predictions all write through here, so that
 *
 * - a write that fails (ENOSPC, EDQUOT, EIO, EROFS) leaves the previous file untouched and no
 *   temporary file behind, and fails with a sentence that says what to do
 *   ("disk full: … free N MB, then `job resume`");
 * - faults can be injected in tests: `FF_FAULT=enospc@checkpoint:3` makes the third checkpoint
 *   write of each process fail with ENOSPC (`eio@export:1`, `enospc@cache:2`, comma-separated
 *   for several). Counting is per process and per kind.
 */
import { createHash } from 'node:crypto'
import { promises as fsp, statfsSync } from 'node:fs'
import { basename, dirname, join, sep } from 'node:path'

/** What is being written (for messages and fault injection). */
export type WriteKind = 'checkpoint' | 'soup' | 'cache' | 'export' | 'file'

const FAULT_CODES = { enospc: 'ENOSPC', eio: 'EIO', edquot: 'EDQUOT', erofs: 'EROFS' } as const
const counts = new Map<WriteKind, number>()

/** A failed write of workspace data, with a message that says what to do. */
export class WriteFailure extends Error {
  constructor(
    message: string,
    /** The errno code (ENOSPC, EIO, ...). */
    readonly code: string
  ) {
    super(message)
  }
}

/**
 * Counts one write of `kind` and throws the fault FF_FAULT asks for at this count, as the
 * file system would (an Error with `code`).
 */
export function faultPoint(kind: WriteKind): void {
  const n = (counts.get(kind) ?? 0) + 1
  counts.set(kind, n)
  const spec = process.env.FF_FAULT
  if (!spec) return
  for (const part of spec.split(',')) {
    const m = /^\s*(enospc|eio|edquot|erofs)@(checkpoint|soup|cache|export|file):(\d+)\s*$/i.exec(part)
    if (!m || m[2].toLowerCase() !== kind || Number(m[3]) !== n) continue
    const code = FAULT_CODES[m[1].toLowerCase() as keyof typeof FAULT_CODES]
    throw Object.assign(new Error(`${code}: injected by FF_FAULT=${part.trim()} (${kind} write ${n})`), { code })
  }
}

/** The last `n` components of a path: enough to name a workspace file without its absolute location. */
export function shortPath(path: string, n = 4): string {
  return path.split(sep).filter(Boolean).slice(-n).join('/')
}

/** Free space of the file system holding `path` (its nearest existing ancestor), in MB; undefined if unknown. */
export function freeMegabytes(path: string): number | undefined {
  for (let p = path; ; p = dirname(p)) {
    try {
      const s = statfsSync(p)
      return Math.floor((Number(s.bavail) * Number(s.bsize)) / 2 ** 20)
    } catch {
      if (dirname(p) === p) return undefined
    }
  }
}

/**
 * The error to throw for a failed write of `bytes` bytes to `path` (described as `what`): a
 * {@link WriteFailure} with a what-to-do sentence for a full or failing disk, else `e` itself.
 */
export function writeFailure(e: unknown, path: string, what: string, bytes: number): unknown {
  const code = (e as { code?: string } | null)?.code
  const where = `${what} ${shortPath(path)}`
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const need = Math.max(1, Math.ceil((bytes * 1.1) / 2 ** 20))
    const free = freeMegabytes(path)
    return new WriteFailure(
      `disk full: could not write the ${where}${code === 'EDQUOT' ? ' (disk quota exceeded)' : ''}; free at least ${need} MB on the workspace's disk${free === undefined ? '' : ` (${free} MB free now)`}, then \`job resume\``,
      code
    )
  }
  if (code === 'EIO')
    return new WriteFailure(
      `disk error: could not write the ${where} (EIO: input/output error); check the disk (or move the workspace), then \`job resume\``,
      code
    )
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
    return new WriteFailure(
      `the workspace is read-only: could not write the ${where} (${code}); open a writable workspace, then \`job resume\``,
      code
    )
  return e
}

/** Writes `chunks` to `path` (created or truncated) and fsyncs it (callers rename it into place). */
export async function writeSynced(path: string, chunks: Uint8Array[]): Promise<void> {
  const fh = await fsp.open(path, 'w')
  try {
    for (const c of chunks) await fh.write(c)
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * fsyncs a folder, so that a rename inside it is durable. Where folders cannot be opened or
 * synced (Windows, some network file systems) the rename is as durable as the system makes it.
 */
export async function syncDir(path: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof fsp.open>>
  try {
    fh = await fsp.open(path, 'r')
  } catch (e) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes((e as NodeJS.ErrnoException).code ?? '')) return
    throw e
  }
  try {
    await fh.sync()
  } catch (e) {
    if (!['EINVAL', 'ENOTSUP', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e
  } finally {
    await fh.close()
  }
}

let counter = 0

/** A temporary name beside `path` (same folder, so the final rename is atomic). */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`)
}

/**
 * Writes a file atomically: readers see the old file or the whole new one, never a part; a
 * failure leaves the old file and no temporary file, and throws {@link writeFailure}'s sentence.
 */
export async function writeFileAtomic(
  path: string,
  chunks: Uint8Array[],
  kind: WriteKind = 'file',
  what: string = kind === 'file' ? 'file' : kind
): Promise<void> {
  const bytes = chunks.reduce((a, c) => a + c.byteLength, 0)
  const tmp = tempBeside(path)
  try {
    faultPoint(kind)
    await fsp.mkdir(dirname(path), { recursive: true })
    await writeSynced(tmp, chunks)
    await fsp.rename(tmp, path)
    await syncDir(dirname(path))
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined)
    throw writeFailure(e, path, what, bytes)
  }
}

/** Lower-case hex SHA-256 of a file's bytes (streamed). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  const fh = await fsp.open(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      h.update(buf.subarray(0, bytesRead))
    }
  } finally {
    await fh.close()
  }
  return h.digest('hex')
}
