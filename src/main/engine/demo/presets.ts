/**
 * The demo's scales (pure data): how many synthetic images and which scaled-down grid and FGG
 * plans `fissionfusion demo` runs. Both keep the paper's compute ratio: the grid trains
 * lrs × 2 seeds × 3 augmentations × E epochs, FGG lrs × (E + F) epochs with F ≈ E / 3, so FGG
 * costs (E + F) / 6E ≈ 22% of the grid (the paper: 536 / 2,400).
 */
import { GRID_AUGMENT_IDS, type GridAugmentPreset } from '../../../shared/vocabulary'

/** Settings of one demo scale. */
export interface DemoPreset {
  /** Synthetic images per split of the in-domain dataset and of its shifted OOD twin. */
  counts: { train: number; val: number; test: number }
  oodCounts: { train: number; val: number; test: number }
  /** Side of the square images, pixels (compute grows with its square). */
  size: number
  /** Seed of the generator (the same seed gives byte-identical datasets). */
  seed: number
  /** Epochs of the shared starting point's pretraining (Adam, constant rate). */
  pretrainEpochs: number
  /** Learning rates of the grid and of the FGG bases. */
  lrs: number[]
  seeds: number[]
  augs: GridAugmentPreset[]
  /** Epochs of a grid member and of an FGG base. */
  epochs: number
  /** FGG cyclic-phase epochs and cycle length (epochs). */
  fggEpochs: number
  cycle: number
  /** FGG cyclic rates: maximum (t = 0) and minimum (t = 0.5). */
  a1: number
  a2: number
  /** Images per batch. */
  batchSize: number
  /** Channel-width multiplier of the demo's smallcnn (0.5: a quarter of the convolution work). */
  width: number
  /** Bootstrap resamples of the confidence intervals. */
  resamples: number
}

/** What both scales share: they differ only in how many images they generate. */
const common = {
  seed: 2024,
  seeds: [0, 1],
  augs: [...GRID_AUGMENT_IDS],
  cycle: 4,
  a1: 1e-4,
  a2: 1e-6,
  resamples: 1000,
  width: 0.5,
  size: 16,
  pretrainEpochs: 3,
  lrs: [2e-3, 2e-4],
  epochs: 3,
  fggEpochs: 1,
  batchSize: 64
}

/** `demo --quick`: about 2–3 minutes on 2 CPU cores (wasm), half of it evaluating 16 methods on 20 test sets. */
export const QUICK_PRESET: DemoPreset = {
  ...common,
  counts: { train: 256, val: 160, test: 160 },
  oodCounts: { train: 32, val: 32, test: 160 }
}

/** `demo`: about 3 minutes on 2 CPU cores (wasm): 1.5× the images of --quick. */
export const DEFAULT_PRESET: DemoPreset = {
  ...common,
  counts: { train: 384, val: 224, test: 224 },
  oodCounts: { train: 32, val: 32, test: 224 }
}

/** Planned epochs of the grid and of FGG (members only), and FGG's share of the grid's. */
export function plannedEpochs(p: Pick<DemoPreset, 'lrs' | 'seeds' | 'augs' | 'epochs' | 'fggEpochs'>): {
  grid: number
  fgg: number
  ratio: number
} {
  const grid = p.lrs.length * p.seeds.length * p.augs.length * p.epochs
  const fgg = p.lrs.length * (p.epochs + p.fggEpochs)
  return { grid, fgg, ratio: fgg / grid }
}
