/**
 * The domain vocabulary, written down once: metric, fusion method, augmentation and
 * architecture ids with their labels. Every list of ids in src/ (zod enums of the contract and
 * the job kinds, CLI choices, the engine's types, the renderer's forms) comes from here.
 *
 * The engine's registries (evaluate METRICS, fusion FUSION_METHODS, models ARCHITECTURES,
 * data AUGMENT_PRESETS) stay the implementations; test/shared/vocabulary.test.ts checks that
 * their keys equal these lists.
 *
 * Pure TypeScript: no node:*, no electron, no zod (imported by the renderer too).
 */

/** Metric ids, in display order. */
export const METRIC_IDS = ['acc', 'f1', 'recall', 'kappa', 'auc'] as const
/** Identifier of a reported metric. */
export type MetricId = (typeof METRIC_IDS)[number]

/** Whether `id` is a metric id. */
export function isMetricId(id: string): id is MetricId {
  return (METRIC_IDS as readonly string[]).includes(id)
}

/** The metrics of `values` alone, in {@link METRIC_IDS} order. */
export function metricsOf<T>(values: Readonly<Record<MetricId, T>>): Record<MetricId, T> {
  return Object.fromEntries(METRIC_IDS.map((id) => [id, values[id]])) as Record<MetricId, T>
}

/** Each metric: `label` as in tables, `name` in a sentence or an axis, `description` as in the forms. */
export const METRIC_INFO: readonly { id: MetricId; label: string; name: string; description: string }[] = [
  { id: 'acc', label: 'Accuracy', name: 'accuracy', description: 'Accuracy' },
  { id: 'f1', label: 'Macro-F1', name: 'macro-F1', description: 'Macro-F1' },
  { id: 'recall', label: 'Macro-recall', name: 'macro-recall', description: 'Macro-recall (balanced accuracy)' },
  {
    id: 'kappa',
    label: 'Quadratic κ',
    name: 'quadratic kappa',
    description: "Cohen's kappa, quadratic (ordinal grades)"
  },
  { id: 'auc', label: 'AUROC', name: 'AUROC', description: 'AUROC (mean over classes / labels)' }
]

/** The paper's fusion methods: best individual, the flat soups, the hierarchical soups, the ensemble. */
export const PAPER_METHOD_IDS = ['best', 'uniform', 'greedy', 'gou', 'gog', 'uou', 'uog', 'ensemble'] as const
/** The merge operators (task-vector methods), usable alone or as a level of `hier:OUTER/INNER`. */
export const MERGE_OP_IDS = ['modelstock', 'ties', 'dare', 'taskarith'] as const
export type MergeOpId = (typeof MERGE_OP_IDS)[number]
/** Every named fusion method. */
export const FUSION_METHOD_IDS = [...PAPER_METHOD_IDS, ...MERGE_OP_IDS] as const
export type NamedMethodId = (typeof FUSION_METHOD_IDS)[number]
/** Levels of a hierarchy `hier:OUTER/INNER` (INNER merges each group, OUTER merges the groups). */
export const HIER_LEVEL_IDS = ['uniform', 'greedy', ...MERGE_OP_IDS] as const
export type HierLevelId = (typeof HIER_LEVEL_IDS)[number]
/** Identifier of a fusion method: a named one or a generalised hierarchy. */
export type MethodId = NamedMethodId | `hier:${string}/${string}`
/** Methods whose result is one set of weights merged flat over all members (no groups). */
export const FLAT_METHOD_IDS = ['best', 'uniform', 'greedy', ...MERGE_OP_IDS] as const
/** The paper's hierarchical soups as [outer, inner] levels. */
export const PAPER_HIERARCHIES: Readonly<
  Record<'gou' | 'gog' | 'uou' | 'uog', readonly ['uniform' | 'greedy', 'uniform' | 'greedy']>
> = {
  gou: ['greedy', 'uniform'],
  gog: ['greedy', 'greedy'],
  uou: ['uniform', 'uniform'],
  uog: ['uniform', 'greedy']
}
/** The `hier:OUTER/INNER` grammar, both levels among {@link HIER_LEVEL_IDS}. */
export const HIER_METHOD_PATTERN = new RegExp(`^hier:(${HIER_LEVEL_IDS.join('|')})/(${HIER_LEVEL_IDS.join('|')})$`)

/** Whether `id` names a fusion method (a named one or a well-formed hierarchy). */
export function isMethodId(id: string): id is MethodId {
  return (FUSION_METHOD_IDS as readonly string[]).includes(id) || HIER_METHOD_PATTERN.test(id)
}

/** The methods a fuse job runs unless told otherwise (the paper's table). */
export const DEFAULT_FUSE_METHOD_IDS = [
  'best',
  'uniform',
  'greedy',
  'gou',
  'gog'
] as const satisfies readonly NamedMethodId[]

/** Each named fusion method with a label and a one-line explanation (as in the forms). */
export const FUSION_METHOD_INFO: readonly { id: NamedMethodId; label: string; description: string }[] = [
  { id: 'best', label: 'Best individual', description: 'the member with the highest validation score' },
  { id: 'uniform', label: 'Uniform soup', description: 'the mean of all members' },
  { id: 'greedy', label: 'Greedy soup', description: 'members best first, each kept only if validation improves' },
  { id: 'gou', label: 'GoU', description: "greedy soup over the groups' uniform soups" },
  { id: 'gog', label: 'GoG', description: "greedy soup over the groups' greedy soups" },
  { id: 'uou', label: 'UoU', description: "uniform soup of the groups' uniform soups" },
  { id: 'uog', label: 'UoG', description: "uniform soup of the groups' greedy soups" },
  {
    id: 'ensemble',
    label: 'Ensemble',
    description: "average of the members' predicted probabilities (baseline, not one model)"
  },
  {
    id: 'modelstock',
    label: 'Model Stock',
    description:
      "per layer, between the members' mean and their starting point by the angle of their updates (Jang et al., 2024)"
  },
  {
    id: 'ties',
    label: 'TIES',
    description: 'task vectors trimmed to their top 20%, sign election, disjoint mean (Yadav et al., 2023)'
  },
  {
    id: 'dare',
    label: 'DARE',
    description: 'task-vector entries dropped at random (p = 0.9), rescaled, averaged (Yu et al., 2024)'
  },
  {
    id: 'taskarith',
    label: 'Task arithmetic',
    description: 'starting point + λ × the sum of task vectors, λ chosen on validation (Ilharco et al., 2023)'
  }
]

/** Each id of `ids` with its label from `labels` (keyed by id: the compiler checks that every id has one). */
function labelled<Id extends string>(
  ids: readonly Id[],
  labels: Record<Id, string>
): readonly { id: Id; label: string }[] {
  return ids.map((id) => ({ id, label: labels[id] }))
}

/** Each hierarchy level with its label. */
export const HIER_LEVEL_INFO = labelled(HIER_LEVEL_IDS, {
  uniform: 'uniform',
  greedy: 'greedy',
  modelstock: 'Model Stock',
  ties: 'TIES',
  dare: 'DARE',
  taskarith: 'task arithmetic'
})

/** Augmentation presets (METHOD.md), from none to heavy. */
export const AUGMENT_PRESET_IDS = ['none', 'minimal', 'medium', 'heavy'] as const
export type AugmentPreset = (typeof AUGMENT_PRESET_IDS)[number]
/** The presets a grid search tries (all but 'none'). */
export const GRID_AUGMENT_IDS = ['minimal', 'medium', 'heavy'] as const satisfies readonly AugmentPreset[]
export type GridAugmentPreset = (typeof GRID_AUGMENT_IDS)[number]

/** Each augmentation preset with its label. */
export const AUGMENT_PRESET_INFO = labelled(AUGMENT_PRESET_IDS, {
  none: 'None',
  minimal: 'Minimal (random resized crop 0.9–1.0)',
  medium: 'Medium (crop 0.08–1.0, flip, colour jitter)',
  heavy: 'Heavy (crop 0.7–1.2, RandAugment 2 ops, magnitude 15)'
})

/** Architecture ids (the engine's models registry keys), in the order the forms offer them. */
export const ARCHITECTURE_IDS = [
  'smallcnn',
  'resnet18',
  'resnet50',
  'mobilenetv2',
  'densenet121',
  'deit_s16',
  'vit_b16',
  'vit'
] as const
export type ArchitectureId = (typeof ARCHITECTURE_IDS)[number]
/** The Vision Transformers among them (DeiT-S, ViT-B/16, and `vit` of any dimensions). */
export const VIT_ARCHITECTURE_IDS = ['deit_s16', 'vit_b16', 'vit'] as const satisfies readonly ArchitectureId[]

/** Each architecture with its label. */
export const ARCHITECTURE_INFO = labelled(ARCHITECTURE_IDS, {
  smallcnn: 'Small CNN (28 px, CPU friendly)',
  resnet18: 'ResNet-18',
  resnet50: 'ResNet-50',
  mobilenetv2: 'MobileNetV2',
  densenet121: 'DenseNet-121',
  deit_s16: 'DeiT-S (ViT-S/16)',
  vit_b16: 'ViT-B/16',
  vit: 'ViT-Ti/16 (DeiT-Ti)'
})

/** Fission plan kinds. */
export const PLAN_KINDS = ['grid', 'fgg', 'pretrain'] as const
export type PlanKind = (typeof PLAN_KINDS)[number]
