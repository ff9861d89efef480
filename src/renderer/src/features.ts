import {
  ARCHITECTURE_INFO,
  FUSION_METHOD_INFO,
  HIER_LEVEL_INFO,
  METRIC_INFO,
  type MetricId
} from '../../shared/vocabulary'

/**
 * The job kinds behind each feature of the interface. A view whose kind the engine does not
 * offer yet (listJobKinds) shows "not available yet" instead of controls.
 */
export const JOB_KINDS = {
  /** Dataset import (engine/data). */
  import: 'import',
  /** A Fission run: grid search or FGG (engine/fission). */
  fission: 'fission',
  /** Soups and their evaluation, including out-of-distribution sets and corruptions (host/jobs/fuse.ts). */
  fusion: 'fuse',
  /** One merged model file + model card (engine/export). */
  export: 'export',
  /** Linear mode connectivity between two models (host/jobs/interpolate.ts). */
  interpolate: 'interpolate',
  /** Loss surface on the plane through three models (host/jobs/plane.ts). */
  plane: 'plane'
} as const

/** Architectures offered in the New run form (the engine's registry keys; src/shared/vocabulary.ts). */
export const ARCHITECTURES = ARCHITECTURE_INFO

/** Fusion methods offered (the engine's FUSION_METHODS ids), with a one-line explanation. */
export const FUSION_METHODS = FUSION_METHOD_INFO

/** Levels of a hierarchy `hier:OUTER/INNER` (each group merged by INNER, the groups by OUTER). */
export const HIER_LEVELS = HIER_LEVEL_INFO

/** Hyperparameters members can be grouped by for hierarchical soups. */
export const GROUPINGS = [
  { id: 'lr', label: 'Learning rate (default)' },
  { id: 'lineage', label: 'FGG lineage (base model)' },
  { id: 'seed', label: 'Seed' },
  { id: 'aug', label: 'Augmentation' }
] as const

/** Selection metrics (the engine's metric ids), chosen per dataset. */
export const METRICS: readonly { id: MetricId; label: string }[] = METRIC_INFO.map((m) => ({
  id: m.id,
  label: m.description
}))
