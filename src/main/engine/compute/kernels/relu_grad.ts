// The gradients of Relu, Relu6 and Square as one pass: core's are dy · cast(step(x)) (two
// full-size passes; Relu6 three) and dy · (x · 2) (two). 'FFReluGrad' is native on wasm;
// other backends run core's formula; the values are the same (step(NaN) = NaN).
import {
  cast,
  ClipByValue,
  engine,
  getBackend,
  getKernel,
  greaterEqual,
  lessEqual,
  logicalAnd,
  mul,
  Relu,
  Relu6,
  Square,
  step,
  where,
  zerosLike,
  type GradConfig,
  type Tensor
} from '@tensorflow/tfjs'

/** Kernel name of the fused gradients; attrs { op: 'relu' | 'relu6' | 'square' }. */
export const FF_RELU_GRAD = 'FFReluGrad'

function fused(dy: Tensor, x: Tensor, op: 'relu' | 'relu6' | 'square'): Tensor | undefined {
  if (x.dtype !== 'float32' || dy.dtype !== 'float32' || getKernel(FF_RELU_GRAD, getBackend()) == null) return undefined
  return engine().runKernel(FF_RELU_GRAD, { dy, x }, { op }) as Tensor
}

export const reluGradConfig: GradConfig = {
  kernelName: Relu,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor]
    return { x: () => fused(dy as Tensor, x, 'relu') ?? mul(dy as Tensor, cast(step(x), 'float32')) }
  }
}

export const relu6GradConfig: GradConfig = {
  kernelName: Relu6,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor]
    return {
      x: () => fused(dy as Tensor, x, 'relu6') ?? mul(dy as Tensor, cast(mul(lessEqual(x, 6), step(x)), 'float32'))
    }
  }
}

export const squareGradConfig: GradConfig = {
  kernelName: Square,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => {
    const [x] = saved as [Tensor]
    return { x: () => fused(dy as Tensor, x, 'square') ?? mul(dy as Tensor, mul(cast(x, 'float32'), 2)) }
  }
}

/** Kernel name of ClipByValue's gradient (tf.layers' ReLU with maxValue 6 clips); attrs { min, max }. */
export const FF_CLIP_GRAD = 'FFClipGrad'

/** ClipByValue's gradient in one pass (core's: greaterEqual, lessEqual, logicalAnd, zerosLike, where). */
export const clipByValueGradConfig: GradConfig = {
  kernelName: ClipByValue,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor]
    const { clipValueMin: min, clipValueMax: max } = attrs as unknown as { clipValueMin: number; clipValueMax: number }
    const g = dy as Tensor
    return {
      x: () =>
        x.dtype === 'float32' && g.dtype === 'float32' && getKernel(FF_CLIP_GRAD, getBackend()) != null
          ? (engine().runKernel(FF_CLIP_GRAD, { dy: g, x }, { min, max }) as Tensor)
          : where(logicalAnd(greaterEqual(x, min), lessEqual(x, max)), g, zerosLike(g))
    }
  }
}
