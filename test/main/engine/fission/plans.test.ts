import * as tf from '@tensorflow/tfjs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { hasCheckpoint, readCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import { buildPlan, lrLabel, PLAN_DEFAULTS, type PlanSettings } from '../../../../src/main/engine/fission/plans'
import { runPlan, type RunSetup } from '../../../../src/main/engine/fission/run'
import { tempDir, writeSyntheticCache } from './helpers'

const settings = (over: Partial<PlanSettings>): PlanSettings => ({ ...PLAN_DEFAULTS, kind: 'grid', ...over })

describe('plans (structure)', () => {
  it('grid defaults: 8 lrs × 2 seeds × 3 augmentations = 48 members of 50 epochs, cosine with T_max = epochs', () => {
    const plan = buildPlan(settings({ kind: 'grid' }))
    expect(plan.units).toHaveLength(48)
    expect(new Set(plan.units.map((u) => u.id)).size).toBe(48)
    expect(
      plan.units.every((u) => u.epochs === 50 && u.schedule.kind === 'cosine' && u.schedule.tMax === 50 && u.keepBest)
    ).toBe(true)
    expect(plan.units.reduce((s, u) => s + u.epochs, 0)).toBe(2400)
  })

  it('fgg defaults: 8 groups of 6 members at lineage epochs 0, 1, 5, 9, 13, 17; 536 epochs', () => {
    const plan = buildPlan(settings({ kind: 'fgg' }))
    const members = plan.units.flatMap((u) => u.members)
    expect(members).toHaveLength(48)
    const groups = new Map<string, number[]>()
    for (const m of members) groups.set(m.group, [...(groups.get(m.group) ?? []), m.epoch])
    expect([...groups.keys()]).toEqual(PLAN_DEFAULTS.lrs.map(lrLabel))
    for (const epochs of groups.values()) expect(epochs).toEqual([0, 1, 5, 9, 13, 17])
    expect(members.every((m) => m.seed === 1 && m.aug === 'heavy')).toBe(true)
    const cyclic = plan.units.filter((u) => u.schedule.kind === 'cyclic')
    expect(cyclic).toHaveLength(8)
    for (const u of cyclic) {
      expect(u.schedule).toEqual({ kind: 'cyclic', a1: 1e-5, a2: 1e-8, cycle: 4 })
      expect(u.carryOptimizer).toBe(true)
      expect(u.epochs).toBe(17)
      expect(u.dependsOn).toHaveLength(1)
      expect(u.from).toBe(`${plan.units.find((b) => b.id === u.dependsOn[0])!.dir}/best`)
    }
    expect(plan.units.reduce((s, u) => s + u.epochs, 0)).toBe(536)
  })

  it('adds a linear probe that every member starts from, and rejects settings that cannot work', () => {
    const plan = buildPlan(settings({ kind: 'fgg', lpEpochs: 10 }))
    expect(plan.units[0]).toMatchObject({ id: 'lp', trainable: 'head', epochs: 10, patience: 8, from: 'start' })
    expect(
      plan.units
        .filter((u) => u.id.startsWith('fgg-base'))
        .every((u) => u.from === 'lp/best' && u.dependsOn[0] === 'lp')
    ).toBe(true)
    expect(() => buildPlan(settings({ kind: 'fgg', cycle: 3 }))).toThrow(/cycle: expected an even number/)
    expect(() => buildPlan(settings({ kind: 'grid', lrs: [] }))).toThrow(/lrs/)
    expect(lrLabel(0.0005)).toBe('5e-4')
  })
})

describe('plans (run)', () => {
  let dataset: string
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    dataset = writeSyntheticCache({ counts: { train: 40, val: 20, test: 20 } })
  })

  it('runs a scaled-down FGG plan from a pretrained checkpoint with a linear probe; groups hold base + snapshots; resumes as a no-op', async () => {
    // a "pretrained" backbone: the pretrain plan on the same data
    const pre: RunSetup = {
      runDir: tempDir(),
      dataset,
      arch: 'smallcnn',
      start: { kind: 'random', seed: 3 },
      plan: buildPlan(settings({ kind: 'pretrain', lrs: [3e-3], epochs: 1, batchSize: 16, augs: ['none'] }))
    }
    const preOut = await runPlan(pre)
    expect(preOut.status).toBe('done')
    expect(preOut.members.map((m) => m.id)).toEqual(['pretrain'])

    const before = tf.memory().numTensors
    const s = settings({
      kind: 'fgg',
      lrs: [3e-3, 1e-3],
      epochs: 2,
      fggEpochs: 5,
      cycle: 4,
      a1: 1e-3,
      a2: 1e-5,
      batchSize: 16,
      lpEpochs: 1,
      metric: 'kappa'
    })
    const setup: RunSetup = {
      runDir: tempDir(),
      dataset,
      arch: 'smallcnn',
      start: { kind: 'checkpoint', dir: join(pre.runDir, 'pretrain/best') },
      plan: buildPlan(s)
    }
    const epochs: string[] = []
    const out = await runPlan(setup, { onEpoch: (u, r) => epochs.push(`${u}:${r.epoch}`) })
    expect(tf.memory().numTensors).toBe(before)
    expect(out.status).toBe('done')
    expect(out.members.map((m) => `${m.group}/${m.epoch}`)).toEqual([
      '3e-3/0',
      '3e-3/1',
      '3e-3/5',
      '1e-3/0',
      '1e-3/1',
      '1e-3/5'
    ])
    expect(epochs.filter((e) => e.startsWith('fgg-cyclic-lr3e-3'))).toHaveLength(5)
    for (const m of out.members) {
      expect(hasCheckpoint(join(setup.runDir, m.checkpoint))).toBe(true)
      expect(Number.isFinite(m.val.kappa)).toBe(true)
      if (m.epoch > 0) expect(m.epochsTrained).toBe(2 + m.epoch)
    }
    // the cyclic phase continued the base's AdamW state
    const base = await readCheckpoint(join(setup.runDir, 'fgg/base-3e-3/best'))
    const snap1 = await readCheckpoint(join(setup.runDir, 'fgg/cyclic-3e-3/epoch-1'))
    expect(snap1.optimizer!.meta.step).toBe(base.optimizer!.meta.step + 3)
    // the pretrained backbone reached start/ (conv weights equal), the head is new
    const pretrained = await readCheckpoint(join(pre.runDir, 'pretrain/best'))
    const start = await readCheckpoint(join(setup.runDir, 'start'))
    expect(start.weights.find((w) => w.name === 'conv1_conv/kernel')!.data).toEqual(
      pretrained.weights.find((w) => w.name === 'conv1_conv/kernel')!.data
    )

    const again = await runPlan(setup, {
      onEpoch: () => {
        throw new Error('nothing should train')
      }
    })
    expect(again.members).toEqual(out.members)
  })
})
