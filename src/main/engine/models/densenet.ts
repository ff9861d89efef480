/**
 * DenseNet-121 (Huang et al. 2017), torchvision layout: growth rate 32, bottleneck width 4 × 32,
 * blocks of 6-12-24-16 pre-activation layers (BN → ReLU → 1×1 conv → BN → ReLU → 3×3 conv, the
 * output concatenated to the input), transitions BN → ReLU → 1×1 conv halving the channels →
 * 2×2 average pool, and a final BN → ReLU before the pool and head. Under 64 px the stem is a
 * 3×3 stride-1 conv without max-pool (as the ResNet `small` stem).
 */
import * as tf from '@tensorflow/tfjs'
import { inputLayer, layerSeed, poolAndHead } from './layers'
import { resnetStem } from './resnet'
import type { ArchBuildOptions, ArchConfig } from './types'

/** Layers per dense block of DenseNet-121. */
export const DENSENET121_BLOCKS = [6, 12, 24, 16]
const GROWTH = 32
const BN_SIZE = 4

function bnRelu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  const y = tf.layers
    .batchNormalization({ name: `${name}_bn`, momentum: 0.9, epsilon: 1e-5 })
    .apply(x) as tf.SymbolicTensor
  return tf.layers.reLU({ name: `${name}_act` }).apply(y) as tf.SymbolicTensor
}

function conv(x: tf.SymbolicTensor, name: string, seed: number, filters: number, kernel: number): tf.SymbolicTensor {
  return tf.layers
    .conv2d({
      name: `${name}_conv`,
      filters,
      kernelSize: kernel,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: layerSeed(seed, name) })
    })
    .apply(x) as tf.SymbolicTensor
}

function build(o: ArchBuildOptions): tf.LayersModel {
  const input = inputLayer(o.inputShape)
  let x = resnetStem(input, o)
  let channels = 64
  DENSENET121_BLOCKS.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      const name = `block${b + 1}_${i + 1}`
      let y = conv(bnRelu(x, `${name}_1`), `${name}_1`, o.seed, BN_SIZE * GROWTH, 1)
      y = conv(bnRelu(y, `${name}_2`), `${name}_2`, o.seed, GROWTH, 3)
      x = tf.layers.concatenate({ name: `${name}_cat`, axis: -1 }).apply([x, y]) as tf.SymbolicTensor
      channels += GROWTH
    }
    if (b < DENSENET121_BLOCKS.length - 1) {
      channels = Math.floor(channels / 2)
      x = conv(bnRelu(x, `trans${b + 1}`), `trans${b + 1}`, o.seed, channels, 1)
      x = tf.layers
        .averagePooling2d({ name: `trans${b + 1}_pool`, poolSize: 2, strides: 2, padding: 'valid' })
        .apply(x) as tf.SymbolicTensor
    }
  })
  x = bnRelu(x, 'final')
  return tf.model({ name: 'densenet121', inputs: input, outputs: poolAndHead(x, o.numClasses, o.seed) })
}

export const densenet121: ArchConfig = {
  name: 'densenet121',
  description: 'DenseNet-121 (7 M parameters); small-image stem under 64 px',
  minSize: 32,
  build
}
