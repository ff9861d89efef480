import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { ARCHITECTURES, getArch } from '../../../../src/main/engine/models/index'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { weightsOf } from '../../../../src/main/engine/models/checkpoint'

const trainableCount = (m: tf.LayersModel): number =>
  m.trainableWeights.reduce((s, w) => s + w.shape.reduce((p: number, d) => p * (d as number), 1), 0)

describe('architecture registry', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('lists smallcnn, resnet18, resnet50, mobilenetv2, densenet121, the ViTs and names unknown keys', () => {
    expect(Object.keys(ARCHITECTURES)).toEqual([
      'smallcnn',
      'resnet18',
      'resnet50',
      'mobilenetv2',
      'densenet121',
      'deit_s16',
      'vit_b16',
      'vit'
    ])
    expect(() => getArch('vgg')).toThrow(/unknown architecture "vgg".*smallcnn/)
  })

  it('has torchvision parameter counts at 224 px with a 1000-class head', () => {
    // torchvision: resnet18 11,689,512; resnet50 25,557,032; mobilenet_v2 3,504,872; densenet121 7,978,856 parameters
    const expected: Record<string, number> = {
      resnet18: 11689512,
      resnet50: 25557032,
      mobilenetv2: 3504872,
      densenet121: 7978856
    }
    for (const [name, count] of Object.entries(expected)) {
      const m = getArch(name).build({ inputShape: [224, 224, 3], numClasses: 1000, seed: 0 })
      expect(trainableCount(m)).toBe(count)
      m.dispose()
    }
  })

  it("smallcnn is METHOD.md's 5-conv BN CNN: 32-32-64-64-128 convs without bias, BN, GAP, dense", () => {
    const m = getArch('smallcnn').build({ inputShape: [28, 28, 3], numClasses: 5, seed: 0 })
    const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D')
    expect(convs.map((l) => (l.getConfig() as { filters: number }).filters)).toEqual([32, 32, 64, 64, 128])
    expect(convs.every((l) => (l.getConfig() as { useBias: boolean }).useBias === false)).toBe(true)
    expect(m.layers.filter((l) => l.getClassName() === 'BatchNormalization')).toHaveLength(5)
    expect(m.layers.filter((l) => l.getClassName() === 'MaxPooling2D')).toHaveLength(2)
    // (3·9·32) + (32·9·32) + (32·9·64) + (64·9·64) + (64·9·128) conv weights + 2·(32+32+64+64+128) BN + 128·5+5 head
    expect(trainableCount(m)).toBe(864 + 9216 + 18432 + 36864 + 73728 + 640 + 645)
    m.dispose()
  })

  it('smallcnn scales its widths by widthMultiplier, keeping at least 8 channels', () => {
    const filters = (widthMultiplier: number) => {
      const m = getArch('smallcnn').build({ inputShape: [16, 16, 1], numClasses: 4, seed: 0, widthMultiplier })
      const f = m.layers
        .filter((l) => l.getClassName() === 'Conv2D')
        .map((l) => (l.getConfig() as { filters: number }).filters)
      m.dispose()
      return f
    }
    expect(filters(0.5)).toEqual([16, 16, 32, 32, 64])
    expect(filters(0.1)).toEqual([8, 8, 8, 8, 13])
  })

  it('builds every architecture at 28 px (small stem) and runs it: logits of (N, classes), finite', () => {
    for (const arch of Object.values(ARCHITECTURES)) {
      const m = arch.build({ inputShape: [28, 28, 3], numClasses: 4, seed: 3 })
      const before = tf.memory().numTensors
      const out = tf.tidy(() =>
        Array.from((m.apply(tf.ones([2, 28, 28, 3]), { training: false }) as tf.Tensor).dataSync())
      )
      expect(out).toHaveLength(8)
      expect(out.every(Number.isFinite)).toBe(true)
      expect(tf.memory().numTensors).toBe(before)
      if (!['smallcnn', 'deit_s16', 'vit_b16', 'vit'].includes(arch.name))
        expect(m.getLayer('stem_conv').getConfig()).toMatchObject({ kernelSize: [3, 3], strides: [1, 1] })
      m.dispose()
    }
  })

  it('uses the ImageNet stem at 224 px', () => {
    const m = getArch('resnet18').build({ inputShape: [224, 224, 3], numClasses: 2, seed: 0 })
    expect(m.getLayer('stem_conv').getConfig()).toMatchObject({ kernelSize: [7, 7], strides: [2, 2] })
    expect(m.getLayer('stem_pool')).toBeDefined()
    m.dispose()
  })

  it('builds the same weights from the same seed with stable names, different ones from another seed', () => {
    const a = getArch('smallcnn').build({ inputShape: [16, 16, 3], numClasses: 3, seed: 5 })
    const b = getArch('smallcnn').build({ inputShape: [16, 16, 3], numClasses: 3, seed: 5 })
    const c = getArch('smallcnn').build({ inputShape: [16, 16, 3], numClasses: 3, seed: 6 })
    const [wa, wb, wc] = [a, b, c].map(weightsOf)
    expect(wb.map((w) => w.name)).toEqual(wa.map((w) => w.name))
    expect(wa[0].name).toBe('conv1_conv/kernel')
    expect(wa.at(-1)!.name).toBe('head/bias')
    expect(wb[0].data).toEqual(wa[0].data)
    expect(wc[0].data).not.toEqual(wa[0].data)
    // layers of equal shape get different initial values
    const k3 = wa.find((w) => w.name === 'conv3_conv/kernel')!.data
    const k4 = wa.find((w) => w.name === 'conv4_conv/kernel')!.data
    expect(k3.slice(0, 10)).not.toEqual(k4.slice(0, 10))
    ;[a, b, c].forEach((m) => m.dispose())
  })
})
