// `models import` of a ViT through the registry of pretrained families (the same path as
// ResNet / DenseNet / MobileNetV2): a torchvision VisionTransformer built from a seed by
// test/fixtures/vit/make_vit.py, as safetensors (torchvision and timm names) and as
// torch.onnx.export wrote it; the imported network's logits equal PyTorch's, also when the
// import is asked for another input size (position embeddings resized as torchvision does).
import * as tf from '@tensorflow/tfjs'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { modelOf, readPretrained } from '../../../../src/main/engine/models/pretrained/index'
import type { TorchTensor } from '../../../../src/main/engine/models/vit-weights'
import { makeVitFixture, maxAbs, maxAbsDiff, readSafetensors } from './vit-fixture'

const FLAGS = [
  '--seed',
  '11',
  '--image',
  '32',
  '--patch',
  '8',
  '--layers',
  '2',
  '--heads',
  '2',
  '--hidden',
  '32',
  '--mlp',
  '64',
  '--classes',
  '5',
  '--batch',
  '4',
  '--interp',
  '48',
  '--no-grad'
]

let dir: string
let io: Map<string, TorchTensor>

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 })
  dir = makeVitFixture(FLAGS)
  io = readSafetensors(join(dir, 'io.safetensors'))
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function logits(model: tf.LayersModel, input: TorchTensor): Float32Array {
  return tf.tidy(
    () => (model.apply(tf.tensor(input.data, input.shape), { training: false }) as tf.Tensor).dataSync() as Float32Array
  )
}

describe('ViT through models import', () => {
  for (const file of ['torchvision.safetensors', 'timm.safetensors', 'model.onnx']) {
    it(`${file}: recognised as a ViT, head kept, PyTorch's logits`, async () => {
      const imp = await readPretrained(join(dir, file), { size: 32, heads: 2 })
      expect(imp.arch).toBe('vit')
      expect(imp.build).toMatchObject({
        inputShape: [32, 32, 3],
        numClasses: 5,
        vit: { patch: 8, hidden: 32, layers: 2, heads: 2, mlp: 64 }
      })
      expect(imp.origin).toMatchObject({ file, format: file.endsWith('.onnx') ? 'onnx' : 'safetensors' })
      expect(imp.report.matched.length + imp.report.reshaped.length).toBe(32)
      const before = tf.memory().numTensors
      const model = modelOf(imp)
      const ref = (io.get('logits') as TorchTensor).data
      expect(maxAbsDiff(logits(model, io.get('input') as TorchTensor), ref)).toBeLessThanOrEqual(1e-4 * maxAbs(ref))
      model.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })
  }

  it("at another input size the position embeddings are resized as torchvision's interpolate_embeddings", async () => {
    const imp = await readPretrained(join(dir, 'torchvision.safetensors'), { size: 48, heads: 2 })
    expect(imp.build.inputShape).toEqual([48, 48, 3])
    const model = modelOf(imp)
    const ref = (io.get('interp.logits') as TorchTensor).data
    expect(maxAbsDiff(logits(model, io.get('interp.input') as TorchTensor), ref)).toBeLessThanOrEqual(
      1e-4 * maxAbs(ref)
    )
    model.dispose()
  })

  it('a width that is not a multiple of 64 without --heads is refused, naming what to give', async () => {
    await expect(readPretrained(join(dir, 'torchvision.safetensors'), { size: 32 })).rejects.toThrow(
      /torchvision\.safetensors: .*attention heads/
    )
  })

  it('a truncated file is refused with its name, not its folder', async () => {
    const cut = join(dir, 'cut.safetensors')
    const whole = (await import('node:fs')).readFileSync(join(dir, 'torchvision.safetensors'))
    writeFileSync(cut, whole.subarray(0, whole.length - 100))
    const err = await readPretrained(cut, { size: 32, heads: 2 }).then(
      () => null,
      (e: Error) => e
    )
    expect(err?.message).toMatch(/^cut\.safetensors: /)
    expect(err?.message).not.toContain(dir)
  })
})
