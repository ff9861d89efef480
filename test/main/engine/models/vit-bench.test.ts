import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { benchVit } from '../../../../src/main/engine/models/vit-bench'

describe('bench vit (tiny: ViT-Ti at 32 px, one step)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('times a training step and an inference batch beside PyTorch, leaving no tensors', async () => {
    const before = tf.memory().numTensors
    const r = await benchVit({ arch: 'vit', size: 32, batch: 2, steps: 1, warmup: 0, torchThreads: 1 })
    expect(tf.memory().numTensors).toBe(before)
    // ViT-Ti/16 with a 10-class head at 32 px (2×2 patches): 5,717,416 − 1000·193 + 10·193 − (196 − 4)·192 parameters.
    expect(r.params).toBe(5717416 - 1000 * 193 + 10 * 193 - (196 - 4) * 192)
    expect(r.dims).toEqual({ patch: 16, hidden: 192, layers: 12, heads: 3, mlp: 768 })
    for (const v of [r.train_ms_per_step, r.infer_ms_per_batch]) expect(v).toBeGreaterThan(0)
    expect(r.torch_error).toBeUndefined()
    expect(r.torch?.train_ms_per_step).toBeGreaterThan(0)
    expect(r.ratio?.train).toBeCloseTo(r.train_ms_per_step / (r.torch?.train_ms_per_step ?? NaN), 10)
  }, 120_000)

  it('names the allowed architectures', async () => {
    await expect(benchVit({ arch: 'resnet18' })).rejects.toThrow(/--arch must be one of deit_s16, vit_b16, vit/)
  })
})
