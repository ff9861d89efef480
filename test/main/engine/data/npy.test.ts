import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { parseNpy } from '../../../../src/main/engine/data/npy'
import { SYSTEM_PYTHON } from '../../../fixtures/data/shared'

/** Every numeric dtype parseNpy reads, in both byte orders where it has one. */
const DTYPES = [
  '|u1',
  '|b1',
  '|i1',
  '<u2',
  '>u2',
  '<i2',
  '>i2',
  '<u4',
  '>u4',
  '<i4',
  '>i4',
  '<u8',
  '>u8',
  '<i8',
  '>i8',
  '<f4',
  '>f4',
  '<f8',
  '>f8'
]

/** NumPy's own .npy bytes (np.save) of a 3 × 5 array of each dtype, with the values NumPy reads back as float64. */
function numpyArrays(): Record<string, { npy: string; values: number[] }> {
  const py = `
import base64, io, json, sys, numpy as np
src = np.array([0, 1, -1, 2, -128, 127, 255, 1000, -1000, 65535, -70000, 2**31 - 1, -2**31, 2**40 + 3, -(2**40 + 3)], dtype=np.float64)
out = {}
for dt in json.loads(sys.argv[1]):
    d = np.dtype(dt)
    if d.kind == 'b': a = (src > 0).astype(d)
    elif d.kind == 'f': a = (src * 0.37).astype(d)
    else: a = src.astype(np.int64).astype(d)  # integers wrap to the dtype's range, as in C
    a = a.reshape(3, 5)
    f = io.BytesIO(); np.save(f, a)
    out[dt] = {'npy': base64.b64encode(f.getvalue()).decode(), 'values': a.astype(np.float64).ravel().tolist()}
print(json.dumps(out))`
  return JSON.parse(execFileSync(SYSTEM_PYTHON, ['-c', py, JSON.stringify(DTYPES)], { encoding: 'utf8' }))
}

describe('parseNpy', () => {
  const arrays = numpyArrays()

  it.each(DTYPES)('reads %s as NumPy does, from an aligned or unaligned offset', (dt) => {
    const { npy, values } = arrays[dt]
    const bytes = Buffer.from(npy, 'base64')
    for (const pad of [0, 1, 3]) {
      // The array at an offset `pad` into a larger buffer (as inside an .npz archive).
      const host = new Uint8Array(bytes.length + pad)
      host.set(bytes, pad)
      const a = parseNpy(host.subarray(pad))
      expect(a.dtype).toBe(dt)
      expect(a.shape).toEqual([3, 5])
      expect(Array.from(a.data)).toEqual(values)
      expect(a.data instanceof Uint8Array).toBe(dt === '|u1' || dt === '|b1')
    }
  })

  it('names an unsupported dtype and truncated data', () => {
    const npy = Buffer.from(arrays['<f4'].npy, 'base64')
    const header = npy.subarray(0, npy.length - 60).toString('latin1')
    expect(() => parseNpy(Buffer.from(header.replace("'<f4'", "'<f2'"), 'latin1'))).toThrow(
      'unsupported .npy dtype <f2'
    )
    expect(() => parseNpy(Buffer.from(header.replace("'<f4'", "'<c8'"), 'latin1'))).toThrow(
      'unsupported .npy dtype <c8'
    )
    expect(() => parseNpy(npy.subarray(0, npy.length - 4))).toThrow('truncated .npy data: 56 bytes for 15 × <f4')
  })
})
