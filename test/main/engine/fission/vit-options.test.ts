/**
 * A run started from a free-form ViT (dimensions that are neither the `vit` default nor
 * deit_s16 / vit_b16) keeps its dimensions in every unit: start/, the FGG base and the cyclic
 * phase that rebuilds the model from the base's checkpoint. Before the fix, start/ and every
 * unit's checkpoints recorded only the run setup's width / stem, so the next unit rebuilt the
 * default ViT-Ti and could not take the weights.
 */
import * as tf from '@tensorflow/tfjs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { buildPlan, PLAN_DEFAULTS } from '../../../../src/main/engine/fission/plans'
import { runPlan, type RunSetup } from '../../../../src/main/engine/fission/run'
import {
  loadModel,
  readCheckpoint,
  readCheckpointMeta,
  weightsOf,
  writeCheckpoint
} from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { footprintKey } from '../../../../src/main/engine/models/memory'
import { tempDir, writeSyntheticCache } from './helpers'

const DIMS = { patch: 8, hidden: 16, layers: 2, heads: 2, mlp: 24 }

describe('free-form ViT options through a run', () => {
  let dataset: string
  let source: string
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    dataset = writeSyntheticCache({ size: 32, counts: { train: 24, val: 12, test: 12 } })
    // "imported" ViT: a workspace checkpoint whose meta holds the dimensions
    source = join(tempDir(), 'vit-source')
    const model = getArch('vit').build({ inputShape: [32, 32, 3], numClasses: 4, seed: 5, vit: DIMS })
    await writeCheckpoint(source, {
      meta: {
        arch: 'vit',
        archOptions: { vit: DIMS },
        inputShape: [32, 32, 3],
        classes: ['a', 'b', 'c', 'd'],
        task: 'single',
        output: 'logits'
      },
      weights: weightsOf(model)
    })
    model.dispose()
  })

  it('start/, the FGG base and the cyclic phase built from the base all keep the dimensions', async () => {
    const before = tf.memory().numTensors
    const plan = buildPlan({
      ...PLAN_DEFAULTS,
      kind: 'fgg',
      lrs: [1e-3],
      epochs: 1,
      fggEpochs: 2,
      cycle: 2,
      lpEpochs: 0,
      batchSize: 12,
      metric: 'acc'
    })
    expect(plan.units.map((u) => u.id)).toHaveLength(2)
    // the setup names the architecture only: the options come from the starting checkpoint
    const setup: RunSetup = {
      runDir: tempDir(),
      dataset,
      arch: 'vit',
      start: { kind: 'checkpoint', dir: source },
      plan
    }
    const out = await runPlan(setup)
    expect(tf.memory().numTensors).toBe(before)
    expect(out.status).toBe('done')
    expect(out.units.map((u) => u.result.epochsTrained)).toEqual([1, 2])
    const dirs = ['start', ...out.members.map((m) => m.checkpoint)]
    expect(dirs.length).toBeGreaterThanOrEqual(3)
    const src = await readCheckpoint(source, { optimizer: false })
    for (const d of dirs) {
      const meta = await readCheckpointMeta(join(setup.runDir, d))
      expect(meta.archOptions, d).toEqual({ vit: DIMS })
      // the weights are the ViT's: same names and shapes as the source's backbone (the head has 3 classes here)
      const ck = await readCheckpoint(join(setup.runDir, d), { optimizer: false })
      const shapes = (ws: typeof ck.weights) =>
        ws.filter((w) => !w.name.startsWith('head/')).map((w) => `${w.name}:${w.shape.join('x')}`)
      expect(shapes(ck.weights), d).toEqual(shapes(src.weights))
      const model = await loadModel(join(setup.runDir, d))
      expect(model.outputs[0].shape).toEqual([null, 3])
      model.dispose()
    }
    // the cyclic phase trained on from the base's best weights: its checkpoints differ from them
    const base = await readCheckpoint(join(setup.runDir, out.members[0].checkpoint), { optimizer: false })
    const last = await readCheckpoint(join(setup.runDir, out.members.at(-1)!.checkpoint), { optimizer: false })
    expect(out.members.at(-1)!.epoch).toBeGreaterThan(0)
    expect(last.weights.some((w, i) => w.data.some((v, j) => v !== base.weights[i].data[j]))).toBe(true)
  }, 60_000)

  it('the memory plan of a free-form ViT is cached under its dimensions', () => {
    const key = (vit?: typeof DIMS) =>
      footprintKey({ arch: 'vit', archOptions: vit ? { vit } : {}, inputShape: [32, 32, 3], backend: 'wasm' })
    expect(key(DIMS)).not.toBe(key())
    expect(key(DIMS)).not.toBe(key({ ...DIMS, layers: 3 }))
    // other architectures keep their keys
    expect(footprintKey({ arch: 'resnet18', archOptions: {}, inputShape: [64, 64, 3], backend: 'wasm' })).toBe(
      'v6-wasm-resnet18-1-auto-64x64x3'
    )
  })
})
