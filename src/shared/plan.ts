/**
 * Plan settings and defaults (METHOD.md's), and the pure learning-rate and snapshot arithmetic,
 * written once for the engine (fission/plans.ts and fission/schedules.ts re-export them) and
 * the New run view (renderer/src/plan.ts).
 *
 * Pure TypeScript: no node:*, no electron.
 */
import { GRID_AUGMENT_IDS, type AugmentPreset, type MetricId, type PlanKind } from './vocabulary'

export type { PlanKind } from './vocabulary'

/** Every setting of a plan; defaults in {@link PLAN_DEFAULTS} are METHOD.md's. */
export interface PlanSettings {
  kind: PlanKind
  /** Learning rates (grid: all × seeds × augs; fgg: one base per rate; pretrain: the first). */
  lrs: number[]
  /** Grid seeds. */
  seeds: number[]
  /** Grid augmentation presets. */
  augs: AugmentPreset[]
  /** Epochs of a grid member, an FGG base, or the pretraining (cosine annealing, T_max = epochs). */
  epochs: number
  /** Epochs of the FGG cyclic phase. */
  fggEpochs: number
  /** FGG cycle length, epochs (even, ≥ 2). */
  cycle: number
  /** Cyclic rate at t = 0 (the maximum). */
  a1: number
  /** Cyclic rate at t = 0.5 (the minimum). */
  a2: number
  /** Seed and augmentation of the FGG bases. */
  fggSeed: number
  fggAug: AugmentPreset
  /** Images per batch of grid / FGG / pretrain trainings. */
  batchSize: number
  /** AdamW decoupled weight decay of grid / FGG trainings. */
  weightDecay: number
  /** Linear-probe epochs before the members (0 = none), its rate and early-stop patience. */
  lpEpochs: number
  lpLr: number
  lpPatience: number
  /** Seed of the new head of the starting point, shared by every member. */
  headSeed: number
  /** Selection metric (recorded with each member). */
  metric: MetricId
  /** Optional loss weights per class / label. */
  classWeights?: number[]
}

/** METHOD.md's defaults. */
export const PLAN_DEFAULTS: Omit<PlanSettings, 'kind'> = {
  lrs: [1e-3, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6, 1e-6, 1e-7],
  seeds: [0, 1],
  augs: [...GRID_AUGMENT_IDS],
  epochs: 50,
  fggEpochs: 17,
  cycle: 4,
  a1: 1e-5,
  a2: 1e-8,
  fggSeed: 1,
  fggAug: 'heavy',
  batchSize: 128,
  weightDecay: 1e-4,
  lpEpochs: 0,
  lpLr: 1e-3,
  lpPatience: 8,
  headSeed: 0,
  metric: 'acc'
}

/** Pretraining defaults (METHOD.md's offline recipe): 4 epochs, Adam 1e-3, batch 128, no augmentation. */
export const PRETRAIN_DEFAULTS: Partial<PlanSettings> = {
  lrs: [1e-3],
  epochs: 4,
  batchSize: 128,
  weightDecay: 0,
  augs: ['none']
}

/**
 * A learning-rate schedule as stored in checkpoints and plans (plain JSON). Every schedule is
 * asked for the rate of one iteration: `lrAt(spec, epoch, i, itersPerEpoch)` with `epoch` the
 * 1-based epoch number within the training and `i` the 0-based iteration within the epoch.
 */
export type ScheduleSpec =
  | { kind: 'constant'; lr: number }
  /**
   * Cosine annealing per epoch (PyTorch CosineAnnealingLR stepped each epoch, η_min 0):
   * `lr = lr0 · (1 + cos(π · (epoch − 1) / tMax)) / 2`, constant within an epoch.
   */
  | { kind: 'cosine'; lr: number; tMax: number }
  /**
   * Triangular cyclic rate of Fast Geometric Generation, updated every iteration:
   * `t = ((epoch mod c) + i / itersPerEpoch) / c`,
   * `lr = a1(1 − 2t) + a2·2t` for t < 0.5, else `a1(2t − 1) + a2(2 − 2t)`.
   * With 1-based epochs the minima (t → 0.5) fall at the ends of epochs where
   * `(epoch mod c) + 1 == c / 2`: 1, 5, 9, 13, 17 for c = 4.
   */
  | { kind: 'cyclic'; a1: number; a2: number; cycle: number }

/** Learning rate of 1-based `epoch` of a cosine schedule over `tMax` epochs (constant within an epoch). */
export function cosineLr(lr0: number, epoch: number, tMax: number): number {
  return (lr0 * (1 + Math.cos((Math.PI * (epoch - 1)) / tMax))) / 2
}

/** The position parameter t of the cyclic schedule, in [0, 1). */
export function cyclicT(epoch: number, i: number, itersPerEpoch: number, cycle: number): number {
  return ((epoch % cycle) + i / itersPerEpoch) / cycle
}

/** FGG's triangular cyclic rate at iteration `i` of 1-based `epoch` (METHOD.md). */
export function cyclicLr(
  a1: number,
  a2: number,
  cycle: number,
  epoch: number,
  i: number,
  itersPerEpoch: number
): number {
  const t = cyclicT(epoch, i, itersPerEpoch, cycle)
  return t < 0.5 ? a1 * (1 - 2 * t) + a2 * 2 * t : a1 * (2 * t - 1) + a2 * (2 - 2 * t)
}

/** Learning rate of iteration `i` (0-based) of `epoch` (1-based). */
export function lrAt(s: ScheduleSpec, epoch: number, i: number, itersPerEpoch: number): number {
  switch (s.kind) {
    case 'constant':
      return s.lr
    case 'cosine':
      return cosineLr(s.lr, epoch, s.tMax)
    case 'cyclic':
      return cyclicLr(s.a1, s.a2, s.cycle, epoch, i, itersPerEpoch)
  }
}

/** FGG snapshot rule: save a member at the end of 1-based `epoch` when `(epoch mod c) + 1 == c / 2`. */
export function isFggSnapshot(epoch: number, cycle: number): boolean {
  return (epoch % cycle) + 1 === cycle / 2
}

/** The 1-based epochs of a cyclic phase of `epochs` epochs at which FGG saves members. */
export function fggSnapshotEpochs(epochs: number, cycle: number): number[] {
  return Array.from({ length: epochs }, (_, k) => k + 1).filter((e) => isFggSnapshot(e, cycle))
}
