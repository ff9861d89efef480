/**
 * The ids of the merges beyond the paper and of the hierarchy levels, and the pattern of the
 * method ids they make: plain data, no TensorFlow.js, so the host validates a fuse job's
 * methods without loading the engine.
 */

/** Task-vector merges (merges.ts). */
export type MergeOp = 'modelstock' | 'ties' | 'dare' | 'taskarith'
export const MERGE_OPS: readonly MergeOp[] = ['modelstock', 'ties', 'dare', 'taskarith']

/** What either level of `hier:OUTER/INNER` may be. */
export type LevelMethod = 'uniform' | 'greedy' | MergeOp
export const LEVEL_METHODS: readonly LevelMethod[] = ['uniform', 'greedy', ...MERGE_OPS]

/** A merge alone, or a hierarchy `hier:OUTER/INNER` of any two levels. */
export const EXTRA_METHOD_PATTERN = new RegExp(`^(${MERGE_OPS.join('|')}|hier:(${LEVEL_METHODS.join('|')})/(${LEVEL_METHODS.join('|')}))$`)
