/**
 * The 5-conv BatchNorm CNN of the small-scale offline recipe (METHOD.md): for CPU work at 28 px.
 * conv3×3 32 → BN → ReLU, conv 32, maxpool 2, conv 64, conv 64, maxpool 2, conv 128, GAP, dense.
 */
import * as tf from '@tensorflow/tfjs'
import { convBn, inputLayer, poolAndHead } from './layers'
import type { ArchConfig } from './types'

export const smallcnn: ArchConfig = {
  name: 'smallcnn',
  description: '5-conv BatchNorm CNN (32-32-64-64-128), 0.14 M parameters, for CPU work',
  minSize: 8,
  build({ inputShape, numClasses, seed, widthMultiplier }) {
    // Narrower variants (e.g. 0.5 for the demo) keep at least 8 channels per layer.
    const f = (n: number): number => Math.max(8, Math.round(n * (widthMultiplier ?? 1)))
    const input = inputLayer(inputShape)
    let x = convBn(input, 'conv1', seed, { filters: f(32), kernel: 3 })
    x = convBn(x, 'conv2', seed, { filters: f(32), kernel: 3 })
    x = tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(x) as tf.SymbolicTensor
    x = convBn(x, 'conv3', seed, { filters: f(64), kernel: 3 })
    x = convBn(x, 'conv4', seed, { filters: f(64), kernel: 3 })
    x = tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }).apply(x) as tf.SymbolicTensor
    x = convBn(x, 'conv5', seed, { filters: f(128), kernel: 3 })
    return tf.model({ name: 'smallcnn', inputs: input, outputs: poolAndHead(x, numClasses, seed) })
  }
}
