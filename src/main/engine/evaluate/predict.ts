/**
 * Inference for evaluation: uint8 image batches → class probabilities, in inference mode
 * (BatchNorm running statistics). Images are turned into what the model was trained on:
 * x/255, gray repeated to 3 channels when the model takes 3, resized (bilinear) when the
 * dataset's size differs (reported, never silent), then (x − mean)/std.
 */
import * as tf from '@tensorflow/tfjs'
import type { TaskKind } from '../data/types'

/** A batch of raw images: n × H × W × C uint8, row-major. */
export interface ImageBatch {
  x: Uint8Array
  n: number
}

/** How to prepare images for a model. */
export interface PredictOptions {
  task: TaskKind
  /** Size and channels of the images given: [H, W, C]. */
  imageShape: [number, number, number]
  /** Mean / std after x/255, per channel or one for all (default the recipe's 0.5 / 0.25). */
  normalization?: { mean: number | number[]; std: number | number[] }
  /** Checked between batches. */
  signal?: AbortSignal
}

/** Probabilities N × K (softmax rows, or per-label sigmoid) and what was adapted on the way. */
export interface PredictResult {
  probs: Float32Array
  /** Images predicted. */
  n: number
  /** Adaptations made to fit the model (e.g. 'resized 64×64 → 28×28'), for the log. */
  notes: string[]
}

/** How images of `imageShape` are adapted to the model's input, for the log (empty when they fit as they are). */
export function inputNotes(model: tf.LayersModel, imageShape: [number, number, number]): string[] {
  const [h, w, c] = imageShape
  const [mh, mw, mc] = modelShape(model, imageShape)
  if (c !== mc && c !== 1) throw new Error(`images have ${c} channels but the model takes ${mc}`)
  const notes: string[] = []
  if (c !== mc) notes.push(`gray images repeated to ${mc} channels`)
  if (h !== mh || w !== mw) notes.push(`resized ${h}×${w} → ${mh}×${mw} (bilinear)`)
  return notes
}

function modelShape(model: tf.LayersModel, [h, w, c]: [number, number, number]): [number, number, number] {
  const want = model.inputs[0].shape as (number | null)[]
  return [want[1] ?? h, want[2] ?? w, want[3] ?? c]
}

/** A uint8 batch as the model's normalised float input (N, H, W, C); the caller disposes it. */
export function toModelInput(
  model: tf.LayersModel,
  b: ImageBatch,
  o: Pick<PredictOptions, 'imageShape' | 'normalization'>
): tf.Tensor4D {
  const [h, w, c] = o.imageShape
  const [mh, mw, mc] = modelShape(model, o.imageShape)
  const perChannel = (v: number | number[]): number[] =>
    Array.isArray(v) ? v.slice(0, mc) : new Array<number>(mc).fill(v)
  const mean = perChannel(o.normalization?.mean ?? 0.5)
  const std = perChannel(o.normalization?.std ?? 0.25)
  return tf.tidy(() => {
    let x = tf.tensor4d(b.x, [b.n, h, w, c], 'int32').toFloat().div(255) as tf.Tensor4D
    if (c !== mc) x = tf.tile(x, [1, 1, 1, mc])
    if (h !== mh || w !== mw) x = tf.image.resizeBilinear(x, [mh, mw])
    return x.sub(tf.tensor1d(mean)).div(tf.tensor1d(std)) as tf.Tensor4D
  })
}

/**
 * Predicts every batch; tensors are released after each batch.
 * @param model a model that outputs logits (N, K)
 */
export async function predictBatches(
  model: tf.LayersModel,
  batches: AsyncIterable<ImageBatch> | Iterable<ImageBatch>,
  o: PredictOptions
): Promise<PredictResult> {
  const notes = inputNotes(model, o.imageShape)
  const parts: Float32Array[] = []
  let n = 0
  for await (const b of batches) {
    o.signal?.throwIfAborted()
    const p = tf.tidy(() => {
      const logits = model.apply(toModelInput(model, b, o), { training: false }) as tf.Tensor2D
      return Float32Array.from((o.task === 'single' ? tf.softmax(logits) : tf.sigmoid(logits)).dataSync())
    })
    parts.push(p)
    n += b.n
  }
  const probs = new Float32Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    probs.set(p, at)
    at += p.length
  }
  return { probs, n, notes }
}

/** Mean of several models' probabilities (the ensemble baseline). */
export function averageProbs(all: readonly Float32Array[]): Float32Array {
  if (all.length === 0) throw new Error('ensemble: no predictions to average')
  const out = new Float32Array(all[0].length)
  for (const p of all) {
    if (p.length !== out.length)
      throw new Error(`ensemble: prediction sets differ in size (${p.length} vs ${out.length})`)
    for (let i = 0; i < out.length; i++) out[i] += p[i] / all.length
  }
  return out
}
