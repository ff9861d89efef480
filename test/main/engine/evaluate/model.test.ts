import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute'
import { scoreAll } from '../../../../src/main/engine/evaluate'
import { evaluateModel, predictionsCsv } from '../../../../src/main/engine/evaluate/model'
import { loadModel } from '../../../../src/main/engine/models/checkpoint'
import type { FuseMemberInput } from '../../../../src/main/engine/fusion/run'
import { SIZE, writeDataset, writeMembers } from '../fusion/tiny'

const root = mkdtempSync(join(tmpdir(), 'ff-evalmodel-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let members: FuseMemberInput[] = []

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 })
  writeDataset(join(root, 'ds'), ['a', 'b', 'c'], { train: 4, val: 4, test: 40 }, 3)
  // another dataset: classes in another order, one extra
  writeDataset(join(root, 'other'), ['C', 'extra', 'A', 'B'], { train: 2, val: 2, test: 30 }, 4)
  members = await writeMembers(root, ['a', 'b', 'c'])
})

function splitFiles(dir: string): { x: Uint8Array; y: Int32Array } {
  const x = new Uint8Array(readFileSync(join(dir, 'test.images.u8')))
  const y = new Int32Array(new Uint8Array(readFileSync(join(dir, 'test.labels.i32'))).buffer)
  return { x, y }
}

/** Independent reference: plain tfjs on the raw files. */
async function reference(checkpointDir: string, x: Uint8Array, n: number): Promise<Float32Array> {
  const model = await loadModel(checkpointDir)
  const p = tf.tidy(() => {
    const t = tf
      .tensor4d(
        Float32Array.from(x, (v) => (v / 255 - 0.5) / 0.25),
        [n, SIZE, SIZE, 1]
      )
      .tile([1, 1, 1, 3])
    return Float32Array.from(tf.softmax(model.predict(t) as tf.Tensor).dataSync())
  })
  model.dispose()
  return p
}

describe('evaluateModel', () => {
  it('matches an independent evaluation, writes the predictions CSV, and leaks no tensors', async () => {
    const before = tf.memory().numTensors
    const r = await evaluateModel({
      checkpointDir: members[0].dir,
      datasetDir: join(root, 'ds'),
      bootstrap: { resamples: 100 }
    })
    expect(tf.memory().numTensors).toBe(before)
    const { x, y } = splitFiles(join(root, 'ds'))
    const probs = await reference(members[0].dir, x, 40)
    expect(r.n).toBe(40)
    Array.from(r.probs).forEach((v, i) => expect(v).toBeCloseTo(probs[i], 5))
    const expected = scoreAll({ task: 'single', k: 3, yTrue: y, probs })
    for (const [k, v] of Object.entries(expected)) expect(r.metrics[k as keyof typeof expected].value).toBeCloseTo(v, 6)
    expect(r.notes).toEqual(['gray images repeated to 3 channels'])

    const csv = predictionsCsv(r).trimEnd().split('\n')
    expect(csv[0]).toBe('index,label,p0,p1,p2')
    expect(csv).toHaveLength(41)
    const row5 = csv[6].split(',')
    expect(Number(row5[0])).toBe(5)
    expect(Number(row5[1])).toBe(y[5])
    expect(Number(row5[3])).toBeCloseTo(probs[5 * 3 + 1], 6)
  })

  it("maps another dataset's classes by name, leaving out the unmapped ones", async () => {
    const r = await evaluateModel({
      checkpointDir: members[1].dir,
      datasetDir: join(root, 'other'),
      bootstrap: { resamples: 100 }
    })
    const { y } = splitFiles(join(root, 'other'))
    const keep = Array.from(y).flatMap((c, i) => (c === 1 ? [] : [i]))
    expect(Array.from(r.rows)).toEqual(keep)
    // other's classes C, extra, A, B → model's a=0, b=1, c=2
    const toModel = [2, -1, 0, 1]
    expect(Array.from(r.yTrue)).toEqual(keep.map((i) => toModel[y[i]]))
    expect(r.mapping.unmappedSource).toEqual(['extra'])
    expect(r.notes[0]).toMatch(/left out.*extra/)
  })

  it('writes multi-label CSV rows with blanks for missing labels', () => {
    const csv = predictionsCsv({
      task: 'multilabel',
      classes: ['x', 'y'],
      rows: Int32Array.from([0, 3]),
      yTrue: Float32Array.from([1, NaN, 0, 1]),
      probs: Float32Array.from([0.25, 0.5, 0.125, 1])
    })
    expect(csv).toBe('index,label_0,label_1,p_0,p_1\n0,1,,0.25,0.5\n3,0,1,0.125,1\n')
  })
})
