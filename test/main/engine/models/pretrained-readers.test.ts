// The safetensors reader on hand-built files: F32 / F16 / BF16 / I64 values against hand-computed
// floats (IEEE half: 0x3C00 = 1, 0xC000 = −2, 0x7BFF = 65504, 0x0001 = 2⁻²⁴; bfloat16: 0x3F80 = 1,
// 0x4049 = 3.140625), and the errors on broken headers.
import { describe, expect, it } from 'vitest'
import { readSafetensors } from '../../../../src/main/engine/models/pretrained/safetensors'
import { permute } from '../../../../src/main/engine/models/pretrained/tensors'

function file(
  entries: Record<string, { dtype: string; shape: number[]; bytes: number[] }>,
  headerExtra: Record<string, unknown> = {}
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' }, ...headerExtra }
  const data: number[] = []
  for (const [name, e] of Object.entries(entries)) {
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [data.length, data.length + e.bytes.length] }
    data.push(...e.bytes)
  }
  const h = new TextEncoder().encode(JSON.stringify(header))
  const out = new Uint8Array(8 + h.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true)
  out.set(h, 8)
  out.set(data, 8 + h.length)
  return out
}

const le16 = (...v: number[]) => v.flatMap((x) => [x & 0xff, x >> 8])

describe('safetensors reader', () => {
  it('converts F32, F16 and BF16 to float32 and lists other dtypes', () => {
    const f32 = new Uint8Array(new Float32Array([1.5, -0.25]).buffer)
    const st = readSafetensors(
      file({
        a: { dtype: 'F32', shape: [2], bytes: Array.from(f32) },
        b: { dtype: 'F16', shape: [2, 2], bytes: le16(0x3c00, 0xc000, 0x7bff, 0x0001) },
        c: { dtype: 'BF16', shape: [2], bytes: le16(0x3f80, 0x4049) },
        n: { dtype: 'I64', shape: [], bytes: [7, 0, 0, 0, 0, 0, 0, 0] }
      }),
      'x.safetensors'
    )
    expect(Array.from(st.tensors.get('a')!.data)).toEqual([1.5, -0.25])
    expect(st.tensors.get('b')!.shape).toEqual([2, 2])
    expect(Array.from(st.tensors.get('b')!.data)).toEqual([1, -2, 65504, 2 ** -24])
    expect(Array.from(st.tensors.get('c')!.data)).toEqual([1, 3.140625])
    expect(st.other).toEqual([{ name: 'n', dtype: 'I64' }])
    expect(st.metadata).toEqual({ format: 'pt' })
  })

  it('names the file and the problem: bytes missing, sizes that do not add up, a header that is not JSON', () => {
    const good = file({ w: { dtype: 'F32', shape: [4], bytes: new Array(16).fill(0) } })
    expect(() => readSafetensors(good.subarray(0, good.length - 4), 'w.safetensors')).toThrow(
      /^w\.safetensors: tensor w needs bytes 0\.\.16 of the data but the file holds 12 \(truncated\)$/
    )
    expect(() =>
      readSafetensors(file({ w: { dtype: 'F32', shape: [3], bytes: new Array(16).fill(0) } }), 'w.safetensors')
    ).toThrow(/w\.safetensors: tensor w: 16 bytes for shape \[3\] of F32 \(12 expected\)/)
    const junk = new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7b, 0x7b, 0x7b, 0x7b])
    expect(() => readSafetensors(junk, 'j.safetensors')).toThrow(
      /j\.safetensors: the safetensors header is not valid JSON/
    )
    expect(() => readSafetensors(new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 0x7b]), 'h.safetensors')).toThrow(
      /h\.safetensors: header of 200 bytes but the file has only 1/
    )
  })
})

describe('layout permutation', () => {
  it('OIHW → HWIO moves each value where index arithmetic says', () => {
    const [o, i, h, w] = [2, 3, 2, 2]
    const data = Float32Array.from({ length: o * i * h * w }, (_, k) => k)
    const t = permute({ shape: [o, i, h, w], data }, [2, 3, 1, 0])
    expect(t.shape).toEqual([h, w, i, o])
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let c = 0; c < h; c++)
          for (let d = 0; d < w; d++) {
            expect(t.data[((c * w + d) * i + b) * o + a]).toBe(data[((a * i + b) * h + c) * w + d])
          }
  })
})
