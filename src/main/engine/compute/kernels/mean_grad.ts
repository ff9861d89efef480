// The gradient of Mean without tfjs-core's ones-tensor product. Core's version builds
// ones(x.shape), multiplies it by dy (a broadcasting Multiply) and divides by the count:
// three full-size passes for each of the two Means of every BatchNorm in training (its
// batch moments), ~8% of a ResNet-18 training step on wasm. Over leading axes (BatchNorm's
// case) it is one kernel that writes dy / count into every row ('FFFillRows', native on
// wasm); everywhere else dy / count on the reduced shape times a ones tensor from the
// backend's Fill kernel (not core's ones array filled in JS at every step).
import {
  div,
  engine,
  fill,
  getBackend,
  getKernel,
  Mean,
  mul,
  reshape,
  util,
  type GradConfig,
  type Tensor
} from '@tensorflow/tfjs'

/** Kernel name of the row fill: out[r, c] = v[c] / divisor. */
export const FF_FILL_ROWS = 'FFFillRows'

export const meanGradConfig: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [Tensor]
    const axes = util.parseAxisParam((attrs as unknown as { axis: number | number[] }).axis, x.shape)
    const count = axes.reduce((a, ax) => a * x.shape[ax], 1)
    const leading = [...axes].sort((p, q) => p - q).every((ax, i) => ax === i)
    const g = dy as Tensor
    return {
      x: () => {
        if (leading && x.dtype === 'float32' && getKernel(FF_FILL_ROWS, getBackend()) != null) {
          return engine().runKernel(FF_FILL_ROWS, { v: g }, { shape: x.shape, divisor: count }) as Tensor
        }
        const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        return mul(div(reshape(g, expanded), count), fill(x.shape, 1))
      }
    }
  }
}
