import * as tf from '@tensorflow/tfjs'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { weightsOf, writeCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { checkpointStart, randomStart, tfjsStart } from '../../../../src/main/engine/models/start'
import { tempDir } from '../fission/helpers'

const shape: [number, number, number] = [12, 12, 3]

describe('starting points', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it("keeps a checkpoint's backbone and gives it a new head for the new classes", async () => {
    const source = getArch('smallcnn').build({ inputShape: shape, numClasses: 10, seed: 1 })
    const dir = join(tempDir(), 'pre')
    await writeCheckpoint(dir, {
      meta: {
        arch: 'smallcnn',
        archOptions: {},
        inputShape: shape,
        classes: Array.from({ length: 10 }, (_, i) => `${i}`),
        task: 'single',
        output: 'logits'
      },
      weights: weightsOf(source)
    })
    const before = tf.memory().numTensors
    const start = await checkpointStart(dir, { numClasses: 5, seed: 9 })
    const src = new Map(weightsOf(source).map((w) => [w.name, w.data]))
    const got = weightsOf(start.model)
    for (const w of got) {
      if (w.name.startsWith('head/')) continue
      expect(w.data).toEqual(src.get(w.name))
    }
    expect(got.find((w) => w.name === 'head/kernel')!.shape).toEqual([128, 5])
    expect(start.initialised).toEqual(['head/kernel', 'head/bias'])
    expect(start.transferred).toHaveLength(25)
    start.model.dispose()
    expect(tf.memory().numTensors).toBe(before)
    source.dispose()
  })

  it('imports a TF.js LayersModel (model.json + shards) by layer name', async () => {
    const source = getArch('smallcnn').build({ inputShape: shape, numClasses: 2, seed: 4 })
    const dir = tempDir()
    await source.save(
      tf.io.withSaveHandler(async (art) => {
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, 'group1-shard1of1.bin'), new Uint8Array(art.weightData as ArrayBuffer))
        writeFileSync(
          join(dir, 'model.json'),
          JSON.stringify({
            modelTopology: art.modelTopology,
            format: 'layers-model',
            weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: art.weightSpecs }]
          })
        )
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
      })
    )
    const start = await tfjsStart(join(dir, 'model.json'), {
      arch: 'smallcnn',
      inputShape: shape,
      numClasses: 3,
      seed: 0
    })
    const conv = (m: tf.LayersModel) => weightsOf(m).find((w) => w.name === 'conv3_conv/kernel')!.data
    expect(conv(start.model)).toEqual(conv(source))
    expect(start.model.outputs[0].shape).toEqual([null, 3])
    start.model.dispose()
    await expect(
      tfjsStart(join(dir, 'model.json'), { arch: 'resnet18', inputShape: shape, numClasses: 3, seed: 0 })
    ).rejects.toThrow(/none of its weight names match architecture resnet18/)
    source.dispose()
  })

  it('random starts are seeded', () => {
    const a = randomStart({ arch: 'smallcnn', inputShape: shape, numClasses: 3, seed: 11 })
    const b = randomStart({ arch: 'smallcnn', inputShape: shape, numClasses: 3, seed: 11 })
    expect(weightsOf(a.model).map((w) => Array.from(w.data))).toEqual(weightsOf(b.model).map((w) => Array.from(w.data)))
    a.model.dispose()
    b.model.dispose()
  })
})
