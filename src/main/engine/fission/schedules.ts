/**
 * Learning-rate schedules (pure functions) and the FGG snapshot rule.
 *
 * Every schedule is asked for the rate of one iteration: `lrAt(epoch, i, itersPerEpoch)` with
 * `epoch` the 1-based epoch number within the training and `i` the 0-based iteration within
 * the epoch. The trainer calls it before EVERY optimizer update.
 */

/** A schedule as stored in checkpoints and plans (plain JSON). */
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

/** The position parameter t of the cyclic schedule, in [0, 1). */
export function cyclicT(epoch: number, i: number, itersPerEpoch: number, cycle: number): number {
  return ((epoch % cycle) + i / itersPerEpoch) / cycle
}

/** Learning rate of iteration `i` (0-based) of `epoch` (1-based). */
export function lrAt(s: ScheduleSpec, epoch: number, i: number, itersPerEpoch: number): number {
  switch (s.kind) {
    case 'constant':
      return s.lr
    case 'cosine':
      return (s.lr * (1 + Math.cos((Math.PI * (epoch - 1)) / s.tMax))) / 2
    case 'cyclic': {
      const t = cyclicT(epoch, i, itersPerEpoch, s.cycle)
      return t < 0.5 ? s.a1 * (1 - 2 * t) + s.a2 * 2 * t : s.a1 * (2 * t - 1) + s.a2 * (2 - 2 * t)
    }
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
