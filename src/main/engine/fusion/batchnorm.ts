/**
 * BatchNorm re-estimation after averaging: averaged weights no longer match averaged running
 * statistics, so the statistics are recomputed on training images. Like PyTorch's `update_bn`,
 * the forward pass runs in training mode (every BatchNorm normalises with its batch statistics);
 * the new running mean / variance of each BatchNorm are the mean / variance of its input over
 * every pixel of every batch.
 */
import * as tf from '@tensorflow/tfjs'

/** Summary of a re-estimation. */
export interface BnReestimateReport {
  /** BatchNorm layers updated. */
  layers: number
  /** Images seen. */
  images: number
}

/**
 * Recomputes the running statistics of every BatchNormalization layer of `model` in place.
 * @param batches normalised image batches (N, H, W, C); each is disposed here after use
 */
export async function reestimateBatchNorm(
  model: tf.LayersModel,
  batches: AsyncIterable<tf.Tensor4D> | Iterable<tf.Tensor4D>
): Promise<BnReestimateReport> {
  const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization')
  if (bns.length === 0) return { layers: 0, images: 0 }
  const probe = tf.model({ inputs: model.inputs, outputs: bns.map((l) => l.input as tf.SymbolicTensor) })
  // Per layer: float64 sums of count-weighted batch means and of count-weighted E[x²].
  const sums = bns.map((l) => {
    const c = (l.input as tf.SymbolicTensor).shape.at(-1) as number
    return { mean: new Float64Array(c), sq: new Float64Array(c), n: 0 }
  })
  let images = 0
  for await (const batch of batches) {
    try {
      const stats = tf.tidy(() => {
        const out = probe.apply(batch, { training: true }) as tf.Tensor | tf.Tensor[]
        const inputs = Array.isArray(out) ? out : [out]
        return inputs.map((x) => {
          const axes = x.shape.slice(0, -1).map((_, i) => i)
          const { mean, variance } = tf.moments(x, axes)
          return { mean: mean.dataSync(), variance: variance.dataSync(), n: x.size / (x.shape.at(-1) as number) }
        })
      })
      stats.forEach((s, i) => {
        const acc = sums[i]
        for (let c = 0; c < acc.mean.length; c++) {
          acc.mean[c] += s.n * s.mean[c]
          acc.sq[c] += s.n * (s.variance[c] + s.mean[c] * s.mean[c])
        }
        acc.n += s.n
      })
      images += batch.shape[0]
    } finally {
      batch.dispose()
    }
  }
  if (images === 0) throw new Error('BatchNorm re-estimation: the batch source gave no images')
  bns.forEach((layer, i) => {
    const { mean, sq, n } = sums[i]
    const m = Float32Array.from(mean, (v) => v / n)
    const v = Float32Array.from(sq, (s, c) => Math.max(0, s / n - (mean[c] / n) ** 2))
    for (const w of layer.weights) {
      const src = w.originalName.endsWith('/moving_mean') ? m : w.originalName.endsWith('/moving_variance') ? v : null
      if (!src) continue
      const t = tf.tensor(src, w.shape as number[])
      w.write(t)
      t.dispose()
    }
  })
  return { layers: bns.length, images }
}
