/**
 * Model outputs on raw images, with the model's own preprocessing (resize to its input size,
 * gray repeated to 3 channels, x/255, (x − mean)/std): logits, or probabilities (softmax for
 * single-label, sigmoid for multi-label). Used by `fissionfusion predict`.
 */
import * as tf from '@tensorflow/tfjs'
import { toModelInput } from '../../evaluate/predict'
import type { TaskKind } from '../../data/types'

/** Options of {@link predictImages}. */
export interface PredictImagesOptions {
  normalization: { mean: number | number[]; std: number | number[] }
  task: TaskKind
  /** Logits instead of probabilities. */
  logits?: boolean
  batchSize?: number
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

/**
 * Outputs N × K (row-major) for `n` uint8 images of `shape` [H, W, C] laid out N × H × W × C.
 * Leaves no tensor behind.
 */
export async function predictImages(model: tf.LayersModel, images: Uint8Array, n: number, shape: [number, number, number], o: PredictImagesOptions): Promise<Float32Array> {
  const per = shape[0] * shape[1] * shape[2]
  if (images.length !== n * per) throw new Error(`predict: ${images.length} pixels for ${n} images of ${shape.join('×')}`)
  const k = (model.outputs[0].shape as number[])[1]
  const out = new Float32Array(n * k)
  const bs = Math.max(1, o.batchSize ?? 16)
  for (let start = 0; start < n; start += bs) {
    o.signal?.throwIfAborted()
    const m = Math.min(bs, n - start)
    const batch = { x: images.subarray(start * per, (start + m) * per), n: m }
    const y = tf.tidy(() => {
      const logits = model.apply(toModelInput(model, batch, { imageShape: shape, normalization: o.normalization }), { training: false }) as tf.Tensor2D
      return o.logits ? logits : o.task === 'single' ? tf.softmax(logits) : tf.sigmoid(logits)
    })
    out.set(await y.data() as Float32Array, start * k)
    y.dispose()
    o.onProgress?.(start + m, n)
    await new Promise((r) => setImmediate(r))
  }
  return out
}
