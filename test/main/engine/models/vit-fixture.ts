/**
 * The PyTorch reference ViT of the ViT tests (test/fixtures/vit/make_vit.py, run with Debian's
 * python3-torch) and a minimal safetensors reader for its files.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TorchTensor } from '../../../../src/main/engine/models/vit-weights'

export const MAKE_VIT = fileURLToPath(new URL('../../../fixtures/vit/make_vit.py', import.meta.url))

/** Runs make_vit.py into a fresh temporary folder with the given flags; returns the folder. */
export function makeVitFixture(flags: string[]): string {
  const out = mkdtempSync(join(tmpdir(), 'ff-vit-'))
  execFileSync('/usr/bin/python3', [MAKE_VIT, out, ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: '1' }
  })
  return out
}

/** Reads a float32 safetensors file (8-byte LE header length, JSON header, raw LE data). */
export function readSafetensors(path: string): Map<string, TorchTensor> {
  const buf = readFileSync(path)
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >
  const out = new Map<string, TorchTensor>()
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue
    if (e.dtype !== 'F32') throw new Error(`${path}: ${name} is ${e.dtype}`)
    const [a, b] = e.data_offsets
    const data = new Float32Array((b - a) >> 2)
    new Uint8Array(data.buffer).set(buf.subarray(8 + n + a, 8 + n + b))
    out.set(name, { shape: e.shape, data })
  }
  return out
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** max |a|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]))
  return m
}
