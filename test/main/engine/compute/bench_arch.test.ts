// `bench train --arch`: the registry's networks on a small budget, and the PyTorch twin's network
// has exactly our trainable parameter count (the same shape), counted independently by torch.
import { existsSync } from 'node:fs'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { benchArch, runTorchArch } from '../../../../src/main/engine/compute/bench_arch'

beforeAll(async () => {
  await initBackend({ backend: 'wasm' })
})

it('times training steps and inference of a registered architecture, per image, and leaves no tensors', async () => {
  const before = tf.memory().numTensors
  const r = await benchArch({ arch: 'smallcnn', size: 16, channels: 3, batch: 4, steps: 3, warmup: 1, profile: true })
  expect(tf.memory().numTensors).toBe(before)
  expect(r.ours.per_train_ms).toHaveLength(3)
  const sorted = [...r.ours.per_train_ms].sort((a, b) => a - b)
  expect(r.ours.train_ms_per_step).toBe(sorted[1])
  expect(r.ours.train_ms_per_image).toBeCloseTo(sorted[1] / 4, 9)
  expect(r.ours.train_img_per_s).toBeCloseTo(4000 / sorted[1], 6)
  // Hand count: convs 3·9·32, 32·9·32, 32·9·64, 64·9·64, 64·9·128 (no bias), BN γ,β on 320 channels, dense 128·10 + 10.
  expect(r.params).toBe(864 + 9216 + 18432 + 36864 + 73728 + 2 * 320 + 1290)
  // The profile covers the convolutions and their gradients.
  const names = r.profile!.map((k) => k.kernel)
  // (convBn's convolutions run the plain Conv2D; the first one's input gradient is not computed.)
  for (const k of ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput']) expect(names).toContain(k)
  expect(r.profile!.find((k) => k.kernel === 'Conv2DBackpropInput')!.calls).toBe(3 * 4)
  expect(r.profile!.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 6)
  for (const k of r.profile!) expect(k.cpu_ms).toBeGreaterThanOrEqual(0)
  // Inference passes are profiled apart: BatchNorm + ReLU fused, no separate ReLU pass.
  const infer = r.profile_infer!.map((k) => k.kernel)
  expect(infer).toContain('FFBatchNormRelu')
  expect(infer).not.toContain('Relu')
  // The profiling wrappers are gone again: kernels still compute.
  expect(
    tf.tidy(
      () =>
        tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, 1, 'valid').dataSync()[0]
    )
  ).toBe(9)
})

it('says which architecture and what to change when the registry has no such network or the input is too small', async () => {
  await expect(benchArch({ arch: 'nope', size: 32, channels: 3, batch: 4 })).rejects.toThrow(
    /unknown architecture "nope"/
  )
  await expect(benchArch({ arch: 'resnet18', size: 8, channels: 3, batch: 4 })).rejects.toThrow(
    /--size: resnet18 needs at least 16 px/
  )
  await expect(benchArch({ arch: 'smallcnn', size: 16, channels: 2, batch: 4 })).rejects.toThrow(/--channels/)
})

const python = '/usr/bin/python3'
it.skipIf(!existsSync(python) && process.env.CI !== 'true')(
  'the PyTorch twins have our trainable parameter counts, on one thread',
  async () => {
    for (const [arch, size, channels, stem] of [
      ['smallcnn', 16, 3, 'small'],
      ['resnet18', 32, 1, 'small'],
      ['resnet18', 64, 3, 'imagenet'],
      ['mobilenetv2', 32, 3, 'small']
    ] as const) {
      const ours = await benchArch({ arch, size, channels, batch: 2, steps: 1, warmup: 0 })
      expect(ours.stem).toBe(stem)
      const t = runTorchArch({ arch, size, channels, batch: 2, classes: 10, stem, steps: 1, warmup: 0 })
      expect(t.threads).toBe(1)
      expect(t.params, `${arch} ${size} px × ${channels}`).toBe(ours.params)
      expect(t.per_train_ms).toHaveLength(1)
    }
  },
  120_000
)
