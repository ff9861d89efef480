/**
 * MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks, ReLU6.
 * Under 64 px the stem conv has stride 1 instead of 2 (same as the ResNet `small` stem).
 */
import * as tf from '@tensorflow/tfjs'
import { convBn, inputLayer, poolAndHead } from './layers'
import { stemOf } from './resnet'
import type { ArchConfig } from './types'

/** [expansion t, output channels c, repeats n, first stride s], from the paper's Table 2. */
const STAGES: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1]
]

/** Channels rounded to a multiple of 8, never below 90% of the request (the reference `_make_divisible`). */
function divisible(v: number): number {
  const r = Math.max(8, Math.floor(v + 4) - (Math.floor(v + 4) % 8))
  return r < 0.9 * v ? r + 8 : r
}

export const mobilenetv2: ArchConfig = {
  name: 'mobilenetv2',
  description: 'MobileNetV2 (3.5 M parameters at width 1); stride-1 stem under 64 px',
  minSize: 16,
  build(o) {
    const alpha = o.widthMultiplier ?? 1
    const input = inputLayer(o.inputShape)
    let x = convBn(input, 'stem', o.seed, {
      filters: divisible(32 * alpha),
      kernel: 3,
      strides: stemOf(o) === 'small' ? 1 : 2,
      activation: 'relu6'
    })
    STAGES.forEach(([t, c, n, s], stage) => {
      for (let i = 0; i < n; i++) {
        const name = `block${stage + 1}_${i}`
        const inC = x.shape[3] as number
        const outC = divisible(c * alpha)
        const stride = i === 0 ? s : 1
        let y = x
        if (t !== 1) y = convBn(y, `${name}_expand`, o.seed, { filters: inC * t, kernel: 1, activation: 'relu6' })
        y = convBn(y, `${name}_dw`, o.seed, {
          filters: 0,
          kernel: 3,
          strides: stride,
          depthwise: true,
          activation: 'relu6'
        })
        y = convBn(y, `${name}_project`, o.seed, { filters: outC, kernel: 1, activation: 'none' })
        x =
          stride === 1 && inC === outC ? (tf.layers.add({ name: `${name}_add` }).apply([x, y]) as tf.SymbolicTensor) : y
      }
    })
    x = convBn(x, 'top', o.seed, {
      filters: alpha > 1 ? divisible(1280 * alpha) : 1280,
      kernel: 1,
      activation: 'relu6'
    })
    return tf.model({ name: 'mobilenetv2', inputs: input, outputs: poolAndHead(x, o.numClasses, o.seed) })
  }
}
