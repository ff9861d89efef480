import type * as tf from '@tensorflow/tfjs'

/** Input shape of a model: height, width, channels (pixels, pixels, 1 or 3). */
export type InputShape = [number, number, number]

/** What an architecture needs to build a model. */
export interface ArchBuildOptions {
  /** Image height × width × channels the model takes (e.g. [28, 28, 3] or [224, 224, 3]). */
  inputShape: InputShape
  /** Outputs of the classification head (classes, or labels for multi-label); ≥ 1. */
  numClasses: number
  /** Seed of every initializer; the same seed builds the same initial weights. */
  seed: number
  /** Channel-width multiplier (MobileNetV2 and smallcnn; default 1). */
  widthMultiplier?: number
  /**
   * Stem for small images: `small` = 3×3 stride-1 conv and no max-pool (CIFAR-style),
   * `imagenet` = 7×7 stride-2 conv + max-pool. Default: `small` when the input is under 64 px.
   */
  stem?: 'small' | 'imagenet'
  /** ViT dimensions (the `vit` architecture; `deit_s16` and `vit_b16` have fixed ones). */
  vit?: Partial<{ patch: number; hidden: number; layers: number; heads: number; mlp: number }>
}

/** The options of an architecture beyond shape, classes and seed: what a checkpoint's `archOptions` and a run's setup carry. */
export type ArchOptions = Pick<ArchBuildOptions, 'widthMultiplier' | 'stem' | 'vit'>

/** The {@link ArchOptions} set in `o` (undefined ones left out), e.g. of the options a model was built with. */
export function archOptionsOf(o: Partial<ArchOptions>): ArchOptions {
  return {
    ...(o.widthMultiplier !== undefined ? { widthMultiplier: o.widthMultiplier } : {}),
    ...(o.stem !== undefined ? { stem: o.stem } : {}),
    ...(o.vit !== undefined ? { vit: { ...o.vit } } : {})
  }
}

/**
 * One architecture. Every model it builds is a functional tf.LayersModel whose
 * input is a normalised float image batch (N, H, W, C) and whose output is the
 * head's LOGITS (N, numClasses): apply softmax (single-label) or sigmoid
 * (multi-label) for probabilities. Layer names are explicit and stable; the head is
 * the single Dense layer named {@link HEAD_LAYER}, fed by the layer named
 * {@link FEATURES_LAYER} (global average pool).
 */
export interface ArchConfig {
  /** Registry key (`smallcnn`, `resnet18`, ...). */
  name: string
  /** One line for the UI / CLI. */
  description: string
  /** Smallest input side the architecture supports, pixels. */
  minSize: number
  /** Builds a fresh, seeded model. */
  build(options: ArchBuildOptions): tf.LayersModel
}

/** Name of the classification head layer in every architecture. */
export const HEAD_LAYER = 'head'
/** Name of the pooled-feature layer that feeds the head. */
export const FEATURES_LAYER = 'features'
