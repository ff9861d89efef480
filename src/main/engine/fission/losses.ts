/**
 * Training losses on logits: softmax cross-entropy (single-label) and masked per-label binary
 * cross-entropy (multi-label), with optional class weights. Labels arrive as plain arrays; the
 * mask is built here in JS so no backend needs an isNaN kernel.
 */
import * as tf from '@tensorflow/tfjs'
import type { TaskKind } from '../data/types'

/** How CheXpert-style uncertain labels (−1) count: as positive, as negative, or masked out. */
export type UncertainPolicy = 'ones' | 'zeros' | 'ignore'

/** Labels of one batch in tensor form. */
export interface LabelTensors {
  /** single: int32 (n); multilabel: float32 (n, L) with blanks set to 0. */
  y: tf.Tensor
  /** multilabel only: 1 where the label is observed, 0 where blank / masked. */
  mask?: tf.Tensor2D
}

/**
 * Label tensors of a batch. Multi-label values: 1 / 0, NaN = blank (masked), −1 = uncertain
 * (mapped by `uncertain`, default `ignore`).
 */
export function labelTensors(
  task: TaskKind,
  y: Int32Array | Float32Array,
  n: number,
  uncertain: UncertainPolicy = 'ignore'
): LabelTensors {
  if (task === 'single') return { y: tf.tensor1d(Int32Array.from(y), 'int32') }
  const l = y.length / n
  const clean = new Float32Array(y.length)
  const mask = new Float32Array(y.length)
  for (let i = 0; i < y.length; i++) {
    let v = y[i]
    if (v === -1) v = uncertain === 'ones' ? 1 : uncertain === 'zeros' ? 0 : NaN
    if (!Number.isNaN(v)) {
      clean[i] = v
      mask[i] = 1
    }
  }
  return { y: tf.tensor2d(clean, [n, l]), mask: tf.tensor2d(mask, [n, l]) }
}

/**
 * Mean loss of a batch (a scalar). Single-label: Σ w[yᵢ]·CEᵢ / Σ w[yᵢ] (PyTorch's weighted
 * CrossEntropyLoss); multi-label: Σ mask·w[label]·BCE / Σ mask, with the numerically stable
 * BCE-with-logits max(x, 0) − x·y + log(1 + e^−|x|).
 * @param classWeights per class (single) or per label (multi-label); default all 1
 */
export function batchLoss(
  task: TaskKind,
  logits: tf.Tensor2D,
  labels: LabelTensors,
  classWeights?: tf.Tensor1D
): tf.Scalar {
  return tf.tidy(() => {
    if (task === 'single') {
      const k = logits.shape[1]
      const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(labels.y as tf.Tensor1D, k), tf.logSoftmax(logits)), 1))
      if (!classWeights) return tf.mean(ce)
      const w = tf.gather(classWeights, labels.y as tf.Tensor1D)
      return tf.div(tf.sum(tf.mul(w, ce)), tf.sum(w))
    }
    const y = labels.y
    const mask = labels.mask as tf.Tensor2D
    const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))
    const weighted = classWeights ? tf.mul(bce, classWeights) : bce
    return tf.div(tf.sum(tf.mul(weighted, mask)), tf.maximum(tf.sum(mask), 1))
  })
}

/** Probabilities from logits: softmax rows (single) or per-label sigmoid (multi-label). */
export function probabilities(task: TaskKind, logits: tf.Tensor2D): tf.Tensor2D {
  return task === 'single' ? tf.softmax(logits) : tf.sigmoid(logits)
}
