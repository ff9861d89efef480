import * as tf from '@tensorflow/tfjs'
import { existsSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import {
  type CheckpointMeta,
  loadModel,
  readCheckpoint,
  readCheckpointMeta,
  setWeights,
  weightsOf,
  writeCheckpoint
} from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { AdamW } from '../../../../src/main/engine/fission/adamw'
import { tempDir } from '../fission/helpers'

const meta = {
  arch: 'smallcnn',
  archOptions: {},
  inputShape: [12, 12, 3] as [number, number, number],
  classes: ['a', 'b', 'c'],
  task: 'single' as const,
  output: 'logits' as const
}

describe('checkpoint format', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
  })

  it('round-trips weights and AdamW state; the manifest locates every float32 LE tensor in weights.bin', async () => {
    const model = getArch('smallcnn').build({ inputShape: [12, 12, 3], numClasses: 3, seed: 2 })
    const opt = new AdamW({ weightDecay: 0.01 })
    const head = model
      .getLayer('head')
      .trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
    const grads = head.map((p) => tf.onesLike(p.variable))
    opt.apply(head, grads, 0.1)
    tf.dispose(grads)
    const dir = join(tempDir(), 'ckpt')
    const weights = weightsOf(model)
    await writeCheckpoint(dir, { meta, weights, optimizer: opt.snapshot() })

    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as CheckpointMeta
    expect(json.format).toBe('fissionfusion-checkpoint')
    const bin = readFileSync(join(dir, 'weights.bin'))
    expect(bin.byteLength).toBe(weights.reduce((s, w) => s + w.data.byteLength, 0))
    const mm = json.weights.find((w) => w.name === 'conv2_bn/moving_variance')!
    expect(mm.kind).toBe('bn-stat')
    expect(json.weights.find((w) => w.name === 'conv2_conv/kernel')!.kind).toBe('trainable')
    // moving variance starts at ones: read it straight from the bytes
    expect(bin.readFloatLE(mm.offset)).toBe(1)
    expect(json.optimizer!.step).toBe(1)
    expect(json.optimizer!.slots.map((s) => s.weight)).toEqual(['head/kernel', 'head/kernel', 'head/bias', 'head/bias'])

    const back = await readCheckpoint(dir)
    expect(back.weights.map((w) => w.name)).toEqual(weights.map((w) => w.name))
    back.weights.forEach((w, i) => expect(w.data).toEqual(weights[i].data))
    // after one Adam step with g = 1: m = 0.1, v = 0.001
    expect(back.optimizer!.moments.get('head/bias')!.m[0]).toBeCloseTo(0.1, 6)
    expect(back.optimizer!.moments.get('head/bias')!.v[0]).toBeCloseTo(0.001, 8)

    const before = tf.memory().numTensors
    const loaded = await loadModel(dir)
    const x = tf.randomNormal([2, 12, 12, 3], 0, 1, 'float32', 1)
    const [p, q] = tf.tidy(() =>
      [model, loaded].map((m) => Array.from((m.apply(x, { training: false }) as tf.Tensor).dataSync()))
    )
    expect(q).toEqual(p)
    x.dispose()
    loaded.dispose()
    expect(tf.memory().numTensors).toBe(before)
    opt.dispose()
    model.dispose()
  })

  it('replaces an existing checkpoint, and reads the previous one when a swap was interrupted', async () => {
    const dir = join(tempDir(), 'c')
    const w = (v: number) => [
      { name: 'x/kernel', shape: [2], kind: 'trainable' as const, data: Float32Array.from([v, v]) }
    ]
    await writeCheckpoint(dir, { meta, weights: w(1) })
    await writeCheckpoint(dir, { meta, weights: w(2) })
    expect((await readCheckpoint(dir)).weights[0].data[0]).toBe(2)
    expect(existsSync(`${dir}.old`)).toBe(false)
    // a crash between "rename dir → dir.old" and "rename tmp → dir"
    renameSync(dir, `${dir}.old`)
    expect((await readCheckpoint(dir)).weights[0].data[0]).toBe(2)
    await writeCheckpoint(dir, { meta, weights: w(3) })
    expect((await readCheckpoint(dir)).weights[0].data[0]).toBe(3)
  })

  it('says which weight does not fit, and which folder has no checkpoint', async () => {
    const model = getArch('smallcnn').build({ inputShape: [12, 12, 3], numClasses: 3, seed: 2 })
    const bad = weightsOf(model).map((w) =>
      w.name === 'head/kernel' ? { ...w, shape: [128, 4], data: new Float32Array(512) } : w
    )
    expect(() => setWeights(model, bad)).toThrow(/head\/kernel: shape \[128,4\] does not fit the model's \[128,3\]/)
    model.dispose()
    await expect(readCheckpointMeta(join(tempDir(), 'none'))).rejects.toThrow(/no checkpoint at .*none/)
  })
})
