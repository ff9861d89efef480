import * as tf from '@tensorflow/tfjs'
import { RESEARCH_USE_STATEMENT } from '../../../../src/shared/notices'
import * as ort from 'onnxruntime-node'
import protobuf from 'protobufjs'
import type { ModelCard } from '../../../../src/main/engine/export/card'

/** Deterministic PRNG in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Seeded values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed)
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r())
}

/**
 * Gives every weight of a model seeded random values (variances positive, so BatchNorm
 * statistics are far from the identity).
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((v, i) => {
    const n = v.shape.reduce((a, b) => (a as number) * (b as number), 1) as number
    const isVar = v.originalName.endsWith('moving_variance')
    const scale = v.originalName.endsWith('kernel')
      ? Math.sqrt(3 / Math.max(1, n / (v.shape[v.shape.length - 1] as number)))
      : 0.5
    const values = isVar ? uniform(n, seed + i, 0.5, 1.5) : uniform(n, seed + i, -scale, scale)
    const t = tf.tensor(values, v.shape as number[])
    v.write(t)
    t.dispose()
  })
}

/** Runs an ONNX file in onnxruntime-node on one float32 input; returns the first output. */
export async function runOnnx(
  bytes: Uint8Array,
  input: Float32Array,
  shape: number[]
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes)
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, shape) })
    const t = out[session.outputNames[0]]
    return { data: t.data as Float32Array, dims: t.dims }
  } finally {
    await session.release()
  }
}

/** Largest absolute element-wise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** Index of the largest value of each row. */
export function argmaxRows(values: ArrayLike<number>, cols: number): number[] {
  const out: number[] = []
  for (let r = 0; r < values.length / cols; r++) {
    let best = 0
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c
    out.push(best)
  }
  return out
}

/** A card as the app would fill it. */
export function sampleCard(overrides: Partial<ModelCard> = {}): ModelCard {
  return {
    cardVersion: 1,
    appVersion: '0.1.0',
    modelName: 'GoG soup',
    intendedUse: RESEARCH_USE_STATEMENT,
    createdAt: '2026-11-27T01:00:00.000Z',
    architecture: { name: 'smallcnn', options: {} },
    dataset: { name: 'RetinaMNIST', task: 'single', classes: ['0', '1', '2', '3', '4'] },
    preprocessing: {
      size: [28, 28],
      channels: 3,
      layout: 'NHWC',
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25]
    },
    output: { name: 'probabilities', activation: 'softmax' },
    method: {
      kind: 'GoG',
      description: 'greedy soup of per-learning-rate greedy soups',
      ingredients: [
        { id: 'm-01', hyperparameters: { lr: 1e-4, seed: 0, augmentation: 'heavy', fgg: true } },
        { id: 'm-02', hyperparameters: { lr: 1e-5, seed: 1, augmentation: 'minimal', base: null } }
      ]
    },
    metrics: [
      { split: 'val', metric: 'kappa', value: 0.61, ci95: [0.52, 0.69], n: 120 },
      { split: 'test', metric: 'acc', value: 0.5225, ci95: [0.475, 0.57], n: 400 },
      { split: 'ood:gaussian-noise-3', metric: 'acc', value: 0.41 }
    ],
    weightsSha256: 'ab'.repeat(32),
    ...overrides
  }
}

/** Reads metadata_props straight from the protobuf wire format (field 14; key 1, value 2), without any schema. */
export function rawMetadataProps(bytes: Uint8Array): Record<string, string> {
  const r = protobuf.Reader.create(bytes)
  const out: Record<string, string> = {}
  while (r.pos < r.len) {
    const tag = r.uint32()
    if (tag >>> 3 !== 14 || (tag & 7) !== 2) {
      r.skipType(tag & 7)
      continue
    }
    const sub = protobuf.Reader.create(r.bytes())
    let key = ''
    let value = ''
    while (sub.pos < sub.len) {
      const t = sub.uint32()
      if (t >>> 3 === 1) key = sub.string()
      else if (t >>> 3 === 2) value = sub.string()
      else sub.skipType(t & 7)
    }
    out[key] = value
  }
  return out
}
