/** Deterministic values in [−scale, scale) (a linear congruential generator), for kernel tests. */
export function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = scale * ((2 * s) / 2 ** 32 - 1)
  }
  return out
}
