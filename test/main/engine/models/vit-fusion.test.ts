import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { runFusion, type FuseMemberInput } from '../../../../src/main/engine/fusion/run'
import { reestimateBatchNorm } from '../../../../src/main/engine/fusion/batchnorm'
import {
  type Checkpoint,
  type NamedWeight,
  readCheckpoint,
  weightsOf,
  writeCheckpoint
} from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { SIZE, writeDataset } from '../fusion/tiny'

const root = mkdtempSync(join(tmpdir(), 'ff-vit-fuse-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const classes = ['q0', 'q1', 'q2']
const VIT = { patch: 4, hidden: 16, layers: 2, heads: 2, mlp: 32 }
const members: FuseMemberInput[] = []
const memberWeights: NamedWeight[][] = []

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 })
  writeDataset(join(root, 'ds'), classes, { train: 32, val: 24, test: 24 }, 1)
  for (const seed of [1, 2]) {
    const model = getArch('vit').build({ inputShape: [SIZE, SIZE, 3], numClasses: classes.length, seed, vit: VIT })
    // Fresh LayerNorms are all ones / zeros and the class token zeros: give every weight a member-specific value.
    const weights = weightsOf(model).map((w, i) => ({
      ...w,
      data: w.data.map((v, j) => v + 0.1 * Math.sin(seed * 7 + i * 13 + j))
    }))
    model.dispose()
    const dir = join(root, 'members', `m${seed}`)
    await writeCheckpoint(dir, {
      meta: {
        arch: 'vit',
        archOptions: { vit: VIT },
        inputShape: [SIZE, SIZE, 3],
        classes,
        task: 'single',
        output: 'logits',
        normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }
      },
      weights
    })
    members.push({ id: `m${seed}`, dir, hparams: { lr: 1e-4, seed }, epochs: 2, seconds: 1 })
    memberWeights.push(weights)
  }
})

describe('fusion of ViT members', () => {
  it('the uniform soup is the element-wise mean of every weight (LayerNorm, class token, position embeddings included); no BatchNorm to re-estimate', async () => {
    const saved = new Map<string, Checkpoint>()
    const logs: string[] = []
    const before = tf.memory().numTensors
    const report = await runFusion({
      members,
      datasetDir: join(root, 'ds'),
      metric: 'acc',
      methods: ['best', 'uniform', 'greedy'],
      bootstrap: { resamples: 50, seed: 1 },
      bnBatches: 1,
      log: (m) => logs.push(m),
      saveSoup: async (r, ckpt) => {
        saved.set(r.method, ckpt)
        return `soup_${r.method}`
      }
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(report.methods.map((m) => m.method)).toEqual(['best', 'uniform', 'greedy'])
    expect(logs).toContain('uniform: no BatchNorm layers (e.g. a ViT): no statistics to re-estimate')
    const soup = saved.get('uniform') as Checkpoint
    expect(soup.meta).toMatchObject({ arch: 'vit', archOptions: { vit: VIT } })
    const [a, b] = memberWeights
    expect(soup.weights.map((w) => w.name)).toEqual(a.map((w) => w.name))
    for (const name of [
      'class_token/class_token',
      'pos_embed/pos_embedding',
      'block0_ln1/gamma',
      'block1_qkv/kernel',
      'encoder_ln/beta',
      'head/kernel'
    ]) {
      expect(soup.weights.some((w) => w.name === name)).toBe(true)
    }
    soup.weights.forEach((w, i) => {
      expect(w.kind).toBe('trainable')
      // (a + b) / 2 by hand, in float32.
      const expected = Float32Array.from(a[i].data, (v, j) => (v + b[i].data[j]) / 2)
      let worst = 0
      w.data.forEach((v, j) => {
        worst = Math.max(worst, Math.abs(v - expected[j]))
      })
      expect(worst, w.name).toBeLessThanOrEqual(1e-7)
    })
    // The greedy soup's checkpoint is a usable model of the same architecture.
    const greedy = saved.get('greedy') as Checkpoint
    await writeCheckpoint(join(root, 'greedy'), { meta: greedy.meta, weights: greedy.weights })
    expect((await readCheckpoint(join(root, 'greedy'))).meta.arch).toBe('vit')
  })

  it('BatchNorm re-estimation leaves a ViT untouched and reads no batch', async () => {
    const model = getArch('vit').build({ inputShape: [SIZE, SIZE, 3], numClasses: 3, seed: 1, vit: VIT })
    let pulled = 0
    const batches = (function* () {
      pulled++
      yield tf.zeros([2, SIZE, SIZE, 3]) as tf.Tensor4D
    })()
    const w0 = weightsOf(model)
    expect(await reestimateBatchNorm(model, batches)).toEqual({ layers: 0, images: 0 })
    expect(pulled).toBe(0)
    weightsOf(model).forEach((w, i) => expect(w.data).toEqual(w0[i].data))
    model.dispose()
  })
})
