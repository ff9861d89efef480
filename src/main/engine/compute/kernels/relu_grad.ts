// The gradients of Relu, Relu6 and Square as one pass: core's are dy · cast(step(x)) (two
// full-size passes; Relu6 three) and dy · (x · 2) (two). 'FFReluGrad' is native on wasm;
// other backends run core's formula; the values are the same (step(NaN) = NaN).
import { cast, engine, getBackend, getKernel, lessEqual, mul, Relu, Relu6, Square, step, type GradConfig, type Tensor } from '@tensorflow/tfjs'

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
    return { x: () => fused(dy as Tensor, x, 'relu6') ?? mul(dy as Tensor, cast(mul(lessEqual(x, 6), step(x)), 'float32')) }
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
