// The gradient of FusedBatchNorm without tfjs-core's Tile. Core's version tiles
// scale·rsqrt(var + ε) to the full (N, H, W, C) shape and builds four full-size
// products before reducing them; on the wasm backend that Tile alone took ~40% of a
// training step of the BatchNorm CNN. Here every per-channel factor broadcasts, and
// only two full-size reductions remain: Σ dy and Σ dy·(x − mean).
import {
  add,
  backend_util,
  engine,
  FusedBatchNorm,
  getBackend,
  getKernel,
  mul,
  neg,
  reshape,
  rsqrt,
  sub,
  sum,
  type GradConfig,
  type Tensor
} from '@tensorflow/tfjs'

/** Kernel name of the fused reduction [Σ dy, Σ dy·(x − mean)] per channel (native on wasm). */
export const FF_BN_REDUCE = 'FFBatchNormReduce'

/**
 * Kernel name of BatchNorm followed by ReLU in one pass (inference only: no gradient; native on
 * wasm). Inputs as FusedBatchNorm's ({x, mean, variance, offset, scale}), attrs {varianceEpsilon}.
 */
export const FF_BN_RELU = 'FFBatchNormRelu'

/**
 * y = (x − mean) · r · scale + offset with r = 1/√(variance + ε); with S₁ = Σ dy and
 * S₂ = Σ dy·(x − mean) over the axes mean broadcasts along:
 *   ∂x = dy · r · scale, ∂mean = −r · scale · S₁, ∂variance = −½ r³ · scale · S₂,
 *   ∂scale = r · S₂, ∂offset = S₁.
 */
export const batchNormGradConfig: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const g = dy as Tensor
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number }
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined]
    const axes = backend_util.getReductionAxes(mean.shape, x.shape)
    const reduce = (t: Tensor): Tensor => reshape(axes.length > 0 ? sum(t, axes) : t, mean.shape)
    const r = rsqrt(add(variance, varianceEpsilon))
    const rScale = scale ? mul(r, scale) : r
    // Computed here, not inside the closures: the tape runs each closure in its own tidy scope.
    // Over every axis but the channels (training), one native pass where the backend has it.
    const leading = axes.length === x.rank - 1 && axes.every((a, i) => a === i) && mean.size === x.shape[x.rank - 1]
    const fused = leading && x.dtype === 'float32' && getKernel(FF_BN_REDUCE, getBackend()) != null
    const [sumDy, sumDyXc] = fused
      ? (engine().runKernel(FF_BN_REDUCE, { dy: g, x, mean }, {}) as Tensor[]).map((t) => reshape(t, mean.shape))
      : [reduce(g), reduce(mul(g, sub(x, mean)))]
    return {
      x: () => mul(g, rScale),
      mean: () => neg(mul(rScale, sumDy)),
      variance: () => mul(mul(mul(rScale, mul(r, r)), -0.5), sumDyXc),
      scale: () => mul(r, sumDyXc),
      offset: () => sumDy
    }
  }
}
