// The gradient of Mean without tfjs-core's ones array built in JS. Core's version fills
// ones(x.shape) in a JS loop at every step, uploads it, multiplies dy by it and divides at full
// size: for the global average pool and every BatchNorm's batch mean in training (smallcnn at
// 28 px, batch 128: up to 3.2 M elements per call) the fill alone was ~9% of a plan's CPU
// profile. Here dy / size is computed on the reduced shape, then one full-size product with a
// ones tensor made by the backend's Fill kernel (a broadcast Tile is ~3x slower on wasm). Same
// float32 values: dy · 1 / size rounds as dy / size.
import { div, fill, Mean, mul, reshape, util, type GradConfig, type Tensor } from '@tensorflow/tfjs'

export const meanGradConfig: GradConfig = {
  kernelName: Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as Tensor[]
    const { axis } = attrs as unknown as { axis: number | number[] }
    const axes = util.parseAxisParam(axis, x.shape)
    const reduceSize = axes.reduce((a, ax) => a * x.shape[ax], 1)
    return {
      x: () => {
        const expanded = x.shape.slice()
        for (const a of axes) expanded[a] = 1
        return mul(div(reshape(dy as Tensor, expanded), reduceSize), fill(x.shape, 1))
      }
    }
  }
}
