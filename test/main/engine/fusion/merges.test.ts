// The merge methods against an independent NumPy implementation of the papers' formulas
// (test/fixtures/merging/reference.py), on checkpoints written to disk; refusals; tensor hygiene.
import * as tf from '@tensorflow/tfjs'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Rng } from '../../../../src/main/engine/data/rng'
import {
  commonStart,
  dareMask,
  mergeCheckpoints,
  type MergeEnv,
  type MergeSpec
} from '../../../../src/main/engine/fusion/merges'
import { getArch } from '../../../../src/main/engine/models'
import { weightsOf, writeCheckpoint, type NamedWeight } from '../../../../src/main/engine/models/checkpoint'

const root = mkdtempSync(join(tmpdir(), 'ff-merges-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const REFERENCE = resolve(__dirname, '../../../fixtures/merging/reference.py')
const K = 4
const ids = Array.from({ length: K }, (_, i) => `m${i}`)
let start: NamedWeight[]
let env: MergeEnv

const meta = {
  arch: 'smallcnn',
  archOptions: {},
  inputShape: [8, 8, 3] as [number, number, number],
  classes: ['a', 'b', 'c'],
  task: 'single' as const,
  output: 'logits' as const
}

function flat(ws: readonly NamedWeight[]): Float32Array {
  const out = new Float32Array(ws.reduce((s, w) => s + w.data.length, 0))
  let at = 0
  for (const w of ws) {
    out.set(w.data, at)
    at += w.data.length
  }
  return out
}

beforeAll(async () => {
  const model = getArch('smallcnn').build({ inputShape: [8, 8, 3], numClasses: 3, seed: 3 })
  start = weightsOf(model)
  model.dispose()
  await writeCheckpoint(join(root, 'start'), { meta, weights: start })
  writeFileSync(join(root, 'start.bin'), flat(start))
  // task vectors sharing a direction (positive cosines, as fine-tunings from one start have),
  // each with its own noise; BatchNorm statistics moved too
  const rng = new Rng(7)
  const common = start.map((w) => Float32Array.from(w.data, () => rng.normal()))
  for (const id of ids) {
    const ws = start.map((w, t) => ({
      ...w,
      data: Float32Array.from(w.data, (v, j) =>
        w.kind === 'trainable'
          ? v + 0.02 * common[t][j] + 0.02 * rng.normal()
          : w.name.endsWith('moving_variance')
            ? v * (1 + 0.1 * rng.next())
            : v + 0.05 * rng.normal()
      )
    }))
    await writeCheckpoint(join(root, id), { meta, weights: ws })
    writeFileSync(join(root, `${id}.bin`), flat(ws))
  }
  env = { dirOf: (id) => join(root, id), start: join(root, 'start') }
})

describe("merge methods equal the NumPy reference of the papers' formulas", () => {
  it('Model Stock, TIES, DARE and task arithmetic to 1e-6 on exported member weights', async () => {
    expect(start.some((w) => w.kind === 'bn-stat')).toBe(true)
    const inputs: MergeSpec[] = ids.map((id) => ({ op: 'member', id }))
    const n = start.filter((w) => w.kind === 'trainable').reduce((s, w) => s + w.data.length, 0)
    // DARE: the engine's own masks are handed to the reference, so both sides drop the same entries
    const masks = ids.map((_, i) => {
      const m = dareMask(5, i, n, 0.9)
      writeFileSync(join(root, `mask${i}.u8`), m)
      return `mask${i}.u8`
    })
    const cases: { name: string; spec: MergeSpec; ref: Record<string, unknown> }[] = [
      { name: 'modelstock', spec: { op: 'modelstock', inputs }, ref: { op: 'modelstock' } },
      {
        name: 'ties',
        spec: { op: 'ties', inputs, density: 0.2, lambda: 1 },
        ref: { op: 'ties', density: 0.2, lambda: 1 }
      },
      {
        name: 'ties_half',
        spec: { op: 'ties', inputs, density: 0.5, lambda: 0.7 },
        ref: { op: 'ties', density: 0.5, lambda: 0.7 }
      },
      { name: 'dare', spec: { op: 'dare', inputs, p: 0.9, seed: 5 }, ref: { op: 'dare', p: 0.9, masks } },
      { name: 'taskarith', spec: { op: 'taskarith', inputs, lambda: 0.3 }, ref: { op: 'taskarith', lambda: 0.3 } }
    ]
    writeFileSync(
      join(root, 'case.json'),
      JSON.stringify({
        weights: start.map((w) => ({ name: w.name, shape: w.shape, kind: w.kind })),
        members: ids,
        merges: cases.map((c) => ({ name: c.name, ...c.ref }))
      })
    )
    execFileSync('/usr/bin/python3', [REFERENCE, root], { stdio: 'pipe' })
    const before = tf.memory().numTensors
    for (const c of cases) {
      const got = flat((await mergeCheckpoints(c.spec, env)).weights)
      const buf = readFileSync(join(root, `${c.name}.ref.bin`))
      const want = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8)
      expect(got.length).toBe(want.length)
      let worst = 0
      for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs(got[j] - want[j]))
      expect(worst, c.name).toBeLessThan(1e-6)
      // the merge moved the weights away from both the start and the plain mean
      const mean = flat((await mergeCheckpoints({ op: 'mean', inputs }, env)).weights)
      expect(
        got.some((v, j) => Math.abs(v - mean[j]) > 1e-4),
        c.name
      ).toBe(true)
    }
    expect(tf.memory().numTensors).toBe(before)
  })

  it('DARE drops about p of the entries, seeded', () => {
    const a = dareMask(1, 0, 20000, 0.9)
    const kept = a.reduce((s, v) => s + v, 0) / a.length
    expect(kept).toBeGreaterThan(0.08)
    expect(kept).toBeLessThan(0.12)
    expect(dareMask(1, 0, 20000, 0.9)).toEqual(a)
    expect(dareMask(1, 1, 20000, 0.9)).not.toEqual(a)
  })

  it('nests: Model Stock of two means equals the reference on those means', async () => {
    const inner: MergeSpec[] = [
      {
        op: 'mean',
        inputs: [
          { op: 'member', id: 'm0' },
          { op: 'member', id: 'm1' }
        ]
      },
      {
        op: 'mean',
        inputs: [
          { op: 'member', id: 'm2' },
          { op: 'member', id: 'm3' }
        ]
      }
    ]
    for (const [i, spec] of inner.entries()) {
      const c = await mergeCheckpoints(spec, env)
      await writeCheckpoint(join(root, `g${i}`), { meta, weights: c.weights })
    }
    const nested = flat((await mergeCheckpoints({ op: 'modelstock', inputs: inner }, env)).weights)
    const direct = flat(
      (
        await mergeCheckpoints(
          {
            op: 'modelstock',
            inputs: [
              { op: 'member', id: 'g0' },
              { op: 'member', id: 'g1' }
            ]
          },
          env
        )
      ).weights
    )
    expect(nested).toEqual(direct)
  })
})

describe('refusals', () => {
  it('refuses members from different starting points, or an unknown one, naming them', async () => {
    expect(() =>
      commonStart(
        [
          { id: 'a', start: 'runs/r1/start' },
          { id: 'b', start: 'runs/r2/start' }
        ],
        'ties'
      )
    ).toThrow(/ties: the members start from different models: runs\/r1\/start \(a\) and runs\/r2\/start \(b\)/)
    expect(() => commonStart([{ id: 'a' }, { id: 'b', start: 's' }], 'dare')).toThrow(
      /dare: the starting point of a is not recorded/
    )
    expect(
      commonStart(
        [
          { id: 'a', start: 's' },
          { id: 'b', start: 's' }
        ],
        'dare'
      )
    ).toBe('s')
    await expect(
      mergeCheckpoints({ op: 'modelstock', inputs: [{ op: 'member', id: 'm0' }] }, { ...env, start: null })
    ).rejects.toThrow(/modelstock: .*starting point/)
  })
})
