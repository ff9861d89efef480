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

/**
 * Architectures offered in the New run form (the engine's registry keys in
 * src/main/engine/models/index.ts; the contract does not list them yet).
 */
export const ARCHITECTURES = [
  { id: 'smallcnn', label: 'Small CNN (28 px, CPU friendly)' },
  { id: 'resnet18', label: 'ResNet-18' },
  { id: 'resnet50', label: 'ResNet-50' },
  { id: 'mobilenetv2', label: 'MobileNetV2' },
  { id: 'densenet121', label: 'DenseNet-121' },
  { id: 'deit_s16', label: 'DeiT-S (ViT-S/16)' },
  { id: 'vit_b16', label: 'ViT-B/16' },
  { id: 'vit', label: 'ViT-Ti/16 (DeiT-Ti)' }
] as const

/** Fusion methods offered (the engine's FUSION_METHODS ids), with a one-line explanation. */
export const FUSION_METHODS = [
  { id: 'best', label: 'Best individual', description: 'the member with the highest validation score' },
  { id: 'uniform', label: 'Uniform soup', description: 'the mean of all members' },
  { id: 'greedy', label: 'Greedy soup', description: 'members best first, each kept only if validation improves' },
  { id: 'gou', label: 'GoU', description: "greedy soup over the groups' uniform soups" },
  { id: 'gog', label: 'GoG', description: "greedy soup over the groups' greedy soups" },
  { id: 'uou', label: 'UoU', description: "uniform soup of the groups' uniform soups" },
  { id: 'uog', label: 'UoG', description: "uniform soup of the groups' greedy soups" },
  { id: 'ensemble', label: 'Ensemble', description: "average of the members' predicted probabilities (baseline, not one model)" },
  { id: 'modelstock', label: 'Model Stock', description: "per layer, between the members' mean and their starting point by the angle of their updates (Jang et al., 2024)" },
  { id: 'ties', label: 'TIES', description: 'task vectors trimmed to their top 20%, sign election, disjoint mean (Yadav et al., 2023)' },
  { id: 'dare', label: 'DARE', description: 'task-vector entries dropped at random (p = 0.9), rescaled, averaged (Yu et al., 2024)' },
  { id: 'taskarith', label: 'Task arithmetic', description: 'starting point + λ × the sum of task vectors, λ chosen on validation (Ilharco et al., 2023)' }
] as const

/** Levels of a hierarchy `hier:OUTER/INNER` (each group merged by INNER, the groups by OUTER). */
export const HIER_LEVELS = [
  { id: 'uniform', label: 'uniform' },
  { id: 'greedy', label: 'greedy' },
  { id: 'modelstock', label: 'Model Stock' },
  { id: 'ties', label: 'TIES' },
  { id: 'dare', label: 'DARE' },
  { id: 'taskarith', label: 'task arithmetic' }
] as const

/** Hyperparameters members can be grouped by for hierarchical soups. */
export const GROUPINGS = [
  { id: 'lr', label: 'Learning rate (default)' },
  { id: 'lineage', label: 'FGG lineage (base model)' },
  { id: 'seed', label: 'Seed' },
  { id: 'aug', label: 'Augmentation' }
] as const

/** Selection metrics (the engine's metric ids), chosen per dataset. */
export const METRICS = [
  { id: 'acc', label: 'Accuracy' },
  { id: 'f1', label: 'Macro-F1' },
  { id: 'recall', label: 'Macro-recall (balanced accuracy)' },
  { id: 'kappa', label: "Cohen's kappa, quadratic (ordinal grades)" },
  { id: 'auc', label: 'AUROC (mean over classes / labels)' }
] as const
