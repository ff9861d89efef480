import * as tf from '@tensorflow/tfjs'
import { readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { batchLoss, labelTensors } from '../../../../src/main/engine/fission/losses'

// Reference values from torch.nn.functional (fixtures/gen_torch.py).
const ref = JSON.parse(readFileSync(new URL('./fixtures/torch.json', import.meta.url), 'utf8'))

function loss(
  task: 'single' | 'multilabel',
  logits: number[],
  shape: [number, number],
  y: Int32Array | Float32Array,
  weights?: number[],
  uncertain?: 'ones' | 'zeros' | 'ignore'
): number {
  const labels = labelTensors(task, y, shape[0], uncertain)
  const v = tf.tidy(
    () => batchLoss(task, tf.tensor2d(logits, shape), labels, weights ? tf.tensor1d(weights) : undefined).dataSync()[0]
  )
  labels.y.dispose()
  labels.mask?.dispose()
  return v
}

describe('losses', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('softmax cross-entropy, plain and class-weighted, equals PyTorch', () => {
    const y = Int32Array.from(ref.ce.y)
    expect(loss('single', ref.ce.logits, [4, 3], y)).toBeCloseTo(ref.ce.mean, 5)
    expect(loss('single', ref.ce.logits, [4, 3], y, ref.ce.weights)).toBeCloseTo(ref.ce.weighted, 5)
  })

  it('masked per-label BCE ignores NaN labels and equals PyTorch on the observed ones', () => {
    const y = Float32Array.from(ref.bce.y, (v: number | null) => (v === null ? NaN : v))
    expect(loss('multilabel', ref.bce.logits, [2, 3], y)).toBeCloseTo(ref.bce.mean, 5)
    expect(loss('multilabel', ref.bce.logits, [2, 3], y, ref.bce.weights)).toBeCloseTo(ref.bce.weighted, 5)
  })

  it('maps uncertain (−1) labels by policy', () => {
    const logits = [0.7, -0.2]
    const bce = (x: number, t: number): number => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)))
    const y = Float32Array.from([1, -1])
    expect(loss('multilabel', logits, [1, 2], y, undefined, 'ignore')).toBeCloseTo(bce(0.7, 1), 6)
    expect(loss('multilabel', logits, [1, 2], y, undefined, 'ones')).toBeCloseTo((bce(0.7, 1) + bce(-0.2, 1)) / 2, 6)
    expect(loss('multilabel', logits, [1, 2], y, undefined, 'zeros')).toBeCloseTo((bce(0.7, 1) + bce(-0.2, 0)) / 2, 6)
  })

  it('has a finite gradient when labels are NaN', () => {
    const labels = labelTensors('multilabel', Float32Array.from([NaN, 1]), 1)
    const g = tf.tidy(() =>
      tf
        .grad((x: tf.Tensor) => batchLoss('multilabel', x as tf.Tensor2D, labels))(tf.tensor2d([[3, -1]]))
        .dataSync()
    )
    expect(Array.from(g).every(Number.isFinite)).toBe(true)
    expect(g[0]).toBe(0)
    labels.y.dispose()
    labels.mask?.dispose()
  })
})
