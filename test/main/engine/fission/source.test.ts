/**
 * The training batches are augmented and normalised on the typed array and uploaded once; they
 * must hold exactly the values of the tensor path (x / 255 as a tensor → augmentBatch →
 * normalise as float32 tensor ops), on the wasm backend and on tfjs's cpu backend.
 */
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { augmentBatch, type AugmentPreset } from '../../../../src/main/engine/data/augment'
import { normalise, toUnitTensor } from '../../../../src/main/engine/data/reader'
import { permutation, Rng } from '../../../../src/main/engine/data/rng'
import { arraySource, deriveSeed, normaliseArray } from '../../../../src/main/engine/fission/source'

function images(n: number, h: number, w: number, c: number, seed: number): Uint8Array {
  const rng = new Rng(seed)
  // smooth gradients plus noise, a few saturated pixels (what Equalize / AutoContrast / Solarize react to)
  return Uint8Array.from({ length: n * h * w * c }, (_, i) => {
    const p = Math.floor(i / c) % (h * w)
    return Math.min(255, Math.max(0, Math.round(((p % w) * 200) / w + rng.int(60) - (i % 97 === 0 ? 300 : 0))))
  })
}

const differing = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) d++
  return d
}

describe.each(['wasm', 'cpu'] as const)('training batches on the typed array (%s)', (backend) => {
  afterAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it.each([
    ['heavy', 3, { mean: 0.5, std: 0.25 }],
    ['medium', 3, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }],
    ['minimal', 1, { mean: 0.5, std: 0.25 }],
    ['heavy', 1, { mean: [0.5], std: [0.25] }]
  ] as [AugmentPreset, 1 | 3, { mean: number | number[]; std: number | number[] }][])(
    '%s, %i channel(s): the values of the tensor path',
    async (preset, c, normalisation) => {
      await initBackend({ backend, threads: 1 })
      const [n, h, w] = [37, 20, 17]
      const split = {
        images: images(n, h, w, c, 11),
        shape: [n, h, w, c] as [number, number, number, number],
        labels: Int32Array.from({ length: n }, (_, i) => i % 3)
      }
      const src = arraySource(split, { augment: preset, normalisation })
      const before = tf.memory().numTensors
      let b = 0
      for await (const batch of src.batches({ batchSize: 16, shuffle: true, seed: 4, epoch: 2 })) {
        // the tensor path on the same images: arraySource's shuffled order of this pass
        const expected = tf.tidy(() => {
          const pixels = new Uint8Array(batch.n * h * w * c)
          const perm = [...permutation(n, deriveSeed(4, 2, 1))].slice(b * 16, b * 16 + batch.n)
          perm.forEach((i, k) => pixels.set(split.images.subarray(i * h * w * c, (i + 1) * h * w * c), k * h * w * c))
          const t = toUnitTensor(
            { x: pixels, y: batch.y, n: batch.n, indices: Uint32Array.from(perm) },
            { size: [h, w], channels: c }
          )
          return normalise(augmentBatch(t, preset, deriveSeed(4, 2, 2, b)), normalisation)
        })
        expect(differing(batch.x.dataSync(), expected.dataSync())).toBe(0)
        tf.dispose([batch.x, expected])
        b++
      }
      expect(b).toBe(3)
      expect(tf.memory().numTensors).toBe(before)
    },
    30_000
  )

  it('normaliseArray: float32 (x − mean) / std per channel, as the tensor ops', async () => {
    await initBackend({ backend, threads: 1 })
    const x = Float32Array.from({ length: 5 * 4 * 3 * 3 }, (_, i) => Math.fround(((i * 7919) % 1009) / 1009))
    const norm = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    const expected = tf.tidy(() => normalise(tf.tensor4d(x, [5, 4, 3, 3]), norm).dataSync())
    expect(differing(normaliseArray(x.slice(), 3, norm), expected)).toBe(0)
  })
})
