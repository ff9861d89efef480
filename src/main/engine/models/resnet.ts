/**
 * ResNet-18 (basic blocks 2-2-2-2) and ResNet-50 (bottlenecks 3-4-6-3), He et al. 2016,
 * torchvision layout (stride on the 3×3 conv of a bottleneck, "v1.5"). The `small` stem
 * (3×3 stride-1 conv, no max-pool) keeps 28 px inputs from collapsing to 1 px too early.
 */
import * as tf from '@tensorflow/tfjs'
import { convBn, inputLayer, poolAndHead, symmetricPad } from './layers'
import type { ArchBuildOptions, ArchConfig } from './types'

type Block = (x: tf.SymbolicTensor, name: string, seed: number, width: number, stride: number) => tf.SymbolicTensor

function residual(
  x: tf.SymbolicTensor,
  y: tf.SymbolicTensor,
  name: string,
  seed: number,
  stride: number
): tf.SymbolicTensor {
  const inC = x.shape[3] as number
  const outC = y.shape[3] as number
  const shortcut =
    stride !== 1 || inC !== outC
      ? convBn(x, `${name}_down`, seed, { filters: outC, kernel: 1, strides: stride, activation: 'none' })
      : x
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tf.SymbolicTensor
  return tf.layers.reLU({ name: `${name}_out` }).apply(sum) as tf.SymbolicTensor
}

const basic: Block = (x, name, seed, width, stride) => {
  let y = convBn(x, `${name}_a`, seed, { filters: width, kernel: 3, strides: stride })
  y = convBn(y, `${name}_b`, seed, { filters: width, kernel: 3, activation: 'none' })
  return residual(x, y, name, seed, stride)
}

const bottleneck: Block = (x, name, seed, width, stride) => {
  let y = convBn(x, `${name}_a`, seed, { filters: width, kernel: 1 })
  y = convBn(y, `${name}_b`, seed, { filters: width, kernel: 3, strides: stride })
  y = convBn(y, `${name}_c`, seed, { filters: width * 4, kernel: 1, activation: 'none' })
  return residual(x, y, name, seed, stride)
}

/** Resolves the stem: explicit, or `small` under 64 px. */
export function stemOf(o: ArchBuildOptions): 'small' | 'imagenet' {
  return o.stem ?? (Math.min(o.inputShape[0], o.inputShape[1]) < 64 ? 'small' : 'imagenet')
}

/**
 * The 64-channel stem of ResNet and DenseNet: `small`, a 3×3 stride-1 conv; `imagenet`, a 7×7
 * stride-2 conv and a 3×3 stride-2 max-pool (torchvision's).
 */
export function resnetStem(input: tf.SymbolicTensor, o: ArchBuildOptions): tf.SymbolicTensor {
  if (stemOf(o) === 'small') return convBn(input, 'stem', o.seed, { filters: 64, kernel: 3 })
  const x = convBn(input, 'stem', o.seed, { filters: 64, kernel: 7, strides: 2 })
  // PyTorch pads the max-pool with −∞; after the ReLU zero padding gives the same maxima.
  const padded = symmetricPad(x, 'stem_poolpad', 1)
  return tf.layers
    .maxPooling2d({ name: 'stem_pool', poolSize: 3, strides: 2, padding: 'valid' })
    .apply(padded) as tf.SymbolicTensor
}

function resnet(name: string, block: Block, depths: number[]) {
  return (o: ArchBuildOptions): tf.LayersModel => {
    const input = inputLayer(o.inputShape)
    let x = resnetStem(input, o)
    depths.forEach((n, stage) => {
      for (let i = 0; i < n; i++) {
        const stride = stage > 0 && i === 0 ? 2 : 1
        x = block(x, `layer${stage + 1}_${i}`, o.seed, 64 * 2 ** stage, stride)
      }
    })
    return tf.model({ name, inputs: input, outputs: poolAndHead(x, o.numClasses, o.seed) })
  }
}

export const resnet18: ArchConfig = {
  name: 'resnet18',
  description: 'ResNet-18 (11 M parameters); small-image stem under 64 px',
  minSize: 16,
  build: resnet('resnet18', basic, [2, 2, 2, 2])
}

export const resnet50: ArchConfig = {
  name: 'resnet50',
  description: 'ResNet-50 (24 M parameters, the reference backbone); small-image stem under 64 px',
  minSize: 16,
  build: resnet('resnet50', bottleneck, [3, 4, 6, 3])
}
