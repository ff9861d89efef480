/**
 * Learning-rate schedules (pure functions) and the FGG snapshot rule, defined once in
 * src/shared/plan.ts (the New run view draws the same schedules) and re-exported here.
 *
 * Every schedule is asked for the rate of one iteration: `lrAt(epoch, i, itersPerEpoch)` with
 * `epoch` the 1-based epoch number within the training and `i` the 0-based iteration within
 * the epoch. The trainer calls it before EVERY optimizer update.
 */
export {
  cosineLr,
  cyclicLr,
  cyclicT,
  fggSnapshotEpochs,
  isFggSnapshot,
  lrAt,
  type ScheduleSpec
} from '../../../shared/plan'
