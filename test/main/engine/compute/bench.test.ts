// The benchmark on a small budget: shape of the result, the hand-counted parameter count, no leaks.
import { existsSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { benchTrain, runTorchBench } from '../../../../src/main/engine/compute/bench'

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
})

it('times training and inference on wasm, scales to 1,024 images and leaves no tensors', async () => {
  const before = tf.memory().numTensors
  const r = await benchTrain({ epochs: 2, warmup: 0, images: 128, batch: 64 })
  expect(tf.memory().numTensors).toBe(before)
  expect(r.backend).toBe('wasm')
  expect(r.epochs_timed).toBe(2)
  expect(r.per_epoch_ms).toHaveLength(2)
  expect(r.per_infer_ms).toHaveLength(2)
  // Median of two epochs of 128 images, scaled ×8.
  expect(r.train_ms_per_1024).toBeCloseTo(((r.per_epoch_ms[0] + r.per_epoch_ms[1]) / 2) * 8, 6)
  expect(r.infer_ms_per_1024).toBeCloseTo(((r.per_infer_ms[0] + r.per_infer_ms[1]) / 2) * 8, 6)
  // conv 1→16, 16→32, 32→64 (3×3 + bias) and dense 64→2: 160 + 4,640 + 18,496 + 130.
  expect(r.params).toBe(23426)
  expect(r.train_cpu_ms_per_1024).toBeGreaterThan(0)
  expect(r.infer_cpu_ms_per_1024).toBeGreaterThan(0)
  expect(r.torch).toBeUndefined()
})

const python = '/usr/bin/python3'
it.skipIf(!existsSync(python) && process.env.CI !== 'true')('runs the PyTorch twin with the same protocol', () => {
  const t = runTorchBench({ epochs: 1, warmup: 0, images: 64, batch: 64 })
  expect(t.threads).toBe(2)
  expect(t.version).toMatch(/^\d+\.\d+/)
  expect(t.train_ms_per_1024).toBeGreaterThan(0)
  expect(t.infer_ms_per_1024).toBeGreaterThan(0)
  expect(t.train_cpu_ms_per_1024).toBeGreaterThan(0)
})
