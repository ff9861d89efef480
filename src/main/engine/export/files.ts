import { createHash } from 'node:crypto'

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

/** Atomic file writes live in io/atomic.ts (one helper for every kind of file); exports pass kind 'export'. */
export { writeFileAtomic } from '../io/atomic'
