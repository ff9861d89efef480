// Linear mode connectivity and the loss plane: the ends / the models' own coordinates give the
// models' own validation loss and metrics (the trainer's evaluation of the checkpoint), the
// midpoint is the two-model soup, a soup of the three lies on the plane; resume keeps points.
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { evaluateCheckpoint } from '../../../../src/main/engine/fission/run'
import { averageCheckpoints } from '../../../../src/main/engine/fusion/average'
import { barrierOf, interpolate, lambdas } from '../../../../src/main/engine/fusion/lmc'
import { lossPlane } from '../../../../src/main/engine/fusion/plane'
import { writeCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import type { FuseMemberInput } from '../../../../src/main/engine/fusion/run'
import { writeDataset, writeMembers } from './tiny'

const root = mkdtempSync(join(tmpdir(), 'ff-lmc-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const data = join(root, 'data')
let members: FuseMemberInput[]

beforeAll(async () => {
  writeDataset(data, ['q0', 'q1', 'q2'], { train: 64, val: 48, test: 16 }, 3)
  members = await writeMembers(root, ['q0', 'q1', 'q2'])
})

const METRICS = ['acc', 'f1', 'recall', 'kappa', 'auc'] as const

describe('interpolate', () => {
  it("λ = 0 and 1 give the two models' own validation loss and metrics; λ = ½ is their soup; no tensor left", async () => {
    const [a, b] = [members[0], members[3]] // different groups: different seeds, a real barrier
    const before = tf.memory().numTensors
    const r = await interpolate({ a: a.dir, b: b.dir, datasetDir: data, steps: 5 })
    expect(tf.memory().numTensors).toBe(before)
    expect(r.points.map((p) => p.lambda)).toEqual([0, 0.25, 0.5, 0.75, 1])
    for (const [p, m] of [
      [r.points[0], a],
      [r.points[4], b]
    ] as const) {
      const own = await evaluateCheckpoint(m.dir, data, 'val')
      expect(Math.abs(p.loss - own.loss)).toBeLessThan(1e-6)
      for (const k of METRICS) expect(Math.abs(p.metrics[k] - own[k]), k).toBeLessThan(1e-6)
    }
    const soup = join(root, 'soup-ab')
    await writeCheckpoint(
      soup,
      await averageCheckpoints([
        { dir: a.dir, weight: 1 },
        { dir: b.dir, weight: 1 }
      ])
    )
    const mid = await evaluateCheckpoint(soup, data, 'val')
    expect(Math.abs(r.points[2].loss - mid.loss)).toBeLessThan(1e-5)
    // the barrier, by hand from the reported losses
    const line = (l: number): number => (1 - l) * r.points[0].loss + l * r.points[4].loss
    expect(r.barrier).toBeCloseTo(Math.max(...r.points.map((p) => p.loss - line(p.lambda))), 12)
    expect(r.barrier).toBeGreaterThan(0)
  })

  it('with --bn-batches, re-estimates BatchNorm statistics at every point (ends included) and leaves no tensor', async () => {
    const before = tf.memory().numTensors
    const r = await interpolate({ a: members[0].dir, b: members[1].dir, datasetDir: data, steps: 2, bnBatches: 1 })
    expect(tf.memory().numTensors).toBe(before)
    const own = await evaluateCheckpoint(members[0].dir, data, 'val')
    // the recorded statistics are replaced by those of 64 training images: another loss at λ = 0
    expect(Number.isFinite(r.points[0].loss)).toBe(true)
    expect(Math.abs(r.points[0].loss - own.loss)).toBeGreaterThan(1e-6)
  })

  it('keeps points of an earlier attempt, and checks its arguments', async () => {
    const kept = { lambda: 0.5, loss: 123, metrics: { acc: 0.5, f1: 0.5, recall: 0.5, kappa: 0, auc: 0.5 } }
    const r = await interpolate({ a: members[0].dir, b: members[1].dir, datasetDir: data, steps: 3, done: [kept] })
    expect(r.points[1]).toEqual(kept)
    expect(r.barrierLambda).toBe(0.5)
    expect(() => lambdas(1, [0, 1])).toThrow(/steps/)
    expect(() => lambdas(3, [1, 0])).toThrow(/range/)
    expect(
      barrierOf([
        { lambda: -1, loss: 1 },
        { lambda: 0, loss: 5 },
        { lambda: 1, loss: 3 }
      ])
    ).toEqual({ barrier: 3, lambda: 0 })
  })
})

describe('loss plane', () => {
  it("the models' own coordinates give their own validation losses; a soup of the three lies on the plane; resume keeps points", async () => {
    const [a, b, c] = [members[0], members[1], members[3]]
    const soup = join(root, 'soup-abc')
    await writeCheckpoint(soup, await averageCheckpoints([a, b, c].map((m) => ({ dir: m.dir, weight: 1 }))))
    const before = tf.memory().numTensors
    const kept = { x: 0, y: 0, loss: 42, metrics: { acc: 1, f1: 1, recall: 1, kappa: 1, auc: 1 } }
    const r = await lossPlane({
      models: [a, b, c].map((m) => ({ id: m.id, dir: m.dir })),
      datasetDir: data,
      grid: 5,
      margin: 0.2,
      soups: [
        { id: 'abc', dir: soup, method: 'uniform' },
        { id: 'other', dir: members[5].dir }
      ],
      done: { 7: { ...kept } }
    })
    expect(tf.memory().numTensors).toBe(before)
    for (const [i, m] of [a, b, c].entries()) {
      const own = await evaluateCheckpoint(m.dir, data, 'val')
      expect(Math.abs(r.models[i].loss - own.loss), m.id).toBeLessThan(1e-5)
    }
    expect(r.models[0]).toMatchObject({ x: 0, y: 0 })
    expect(r.models[1].y).toBe(0)
    expect(r.models[1].x).toBeGreaterThan(0)
    expect(r.models[2].y).toBeGreaterThan(0)
    // the mean of three points is their centroid, in the plane
    const s = r.soups[0]
    expect(s.x).toBeCloseTo((r.models[0].x + r.models[1].x + r.models[2].x) / 3, 4)
    expect(s.y).toBeCloseTo((r.models[0].y + r.models[1].y + r.models[2].y) / 3, 4)
    expect(s.distance).toBeLessThan(1e-3 * r.models[1].x)
    expect(r.soups[1].distance).toBeGreaterThan(0.1 * r.models[1].x)
    // the grid covers the three points with the margin, row by row
    expect(r.grid).toHaveLength(25)
    expect(r.grid[7]).toEqual(kept)
    const span = r.models[1].x - Math.min(0, r.models[2].x)
    expect(r.xs[0]).toBeCloseTo(
      Math.min(0, r.models[2].x) - 0.2 * Math.max(span, r.models[2].x - Math.min(0, r.models[2].x)),
      6
    )
    expect(r.grid.filter((g, i) => i !== 7).every((g) => Number.isFinite(g.loss) && g.loss > 0)).toBe(true)
  })

  it('refuses three collinear models with a clear message', async () => {
    await expect(
      lossPlane({
        models: [members[0], members[1], members[0]].map((m, i) => ({ id: `${m.id}${i}`, dir: m.dir })),
        datasetDir: data,
        grid: 2
      })
    ).rejects.toThrow(/model C lies on the line through A and B/)
  })
})
