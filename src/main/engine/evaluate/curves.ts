/**
 * What a model's test predictions look like as pictures: the confusion matrix (single-label)
 * and one-vs-rest ROC curves per class (per label for multi-label tasks, blanks masked), each
 * with its AUROC. Pure: predictions in, plain numbers out (finite only, so they travel as JSON).
 */
import { metricById, type Predictions } from './index'
import { argmaxRows, binaryAuroc, confusionMatrix, rocCurve } from './metrics'

/** The ROC curve of one class (one-vs-rest) or one label. */
export interface ClassRoc {
  /** Class or label name. */
  name: string
  /** Curve points from (0, 0) to (1, 1): false- and true-positive rates in [0, 1]. */
  points: { fpr: number; tpr: number }[]
  /** Area under this curve, in [0, 1] (sklearn `roc_auc_score` of this class against the rest). */
  auc: number
  /** Images of this class (positives) in the set. */
  positives: number
}

/** One label's 2 × 2 table (sklearn `multilabel_confusion_matrix` at score ≥ 0.5). */
export interface LabelCounts {
  name: string
  /** True positives, false positives, false negatives, true negatives (images). */
  tp: number
  fp: number
  fn: number
  tn: number
}

/** Curves and counts of one model on one prediction set. */
export interface ModelCurves {
  task: Predictions['task']
  /** Class (or label) names, in probability-column order. */
  classes: string[]
  /** Images in the set. */
  n: number
  /** Single-label: counts[true class][predicted class] (arg-max), summing to n; null for multi-label. */
  confusion: number[][] | null
  /** Multi-label: per label, counts at the 0.5 threshold over its non-blank images; null for single-label. */
  labelCounts: LabelCounts[] | null
  /** One curve per class or label that has both positives and negatives in the set. */
  roc: ClassRoc[]
  /** The registry's AUROC of the whole set (what the tables report), or null when undefined. */
  auc: number | null
  /** Classes or labels without a curve, and why. */
  notes: string[]
}

/** Column `c`'s scores and 1/0 truth, leaving out blank (NaN) multi-label entries. */
function oneVsRest(p: Predictions, c: number): { y: Uint8Array; s: Float64Array } {
  const n = p.task === 'single' ? p.yTrue.length : p.yTrue.length / p.k
  const y: number[] = []
  const s: number[] = []
  for (let i = 0; i < n; i++) {
    const truth = p.task === 'single' ? (p.yTrue[i] === c ? 1 : 0) : p.yTrue[i * p.k + c]
    if (Number.isNaN(truth)) continue
    y.push(truth === 1 ? 1 : 0)
    s.push(p.probs[i * p.k + c])
  }
  return { y: Uint8Array.from(y), s: Float64Array.from(s) }
}

/** The confusion matrix and per-class ROC curves of a prediction set; `classes` names its columns. */
export function modelCurves(p: Predictions, classes: readonly string[]): ModelCurves {
  if (classes.length !== p.k) throw new Error(`curves: ${classes.length} class names for ${p.k} probability columns`)
  const n = p.task === 'single' ? p.yTrue.length : p.yTrue.length / p.k
  const roc: ClassRoc[] = []
  const labelCounts: LabelCounts[] = []
  const notes: string[] = []
  for (let c = 0; c < p.k; c++) {
    const { y, s } = oneVsRest(p, c)
    if (p.task === 'multilabel') {
      const t = { name: classes[c], tp: 0, fp: 0, fn: 0, tn: 0 }
      y.forEach((truth, i) => (s[i] >= 0.5 ? (truth ? t.tp++ : t.fp++) : truth ? t.fn++ : t.tn++))
      labelCounts.push(t)
    }
    const auc = binaryAuroc(y, s)
    if (Number.isNaN(auc)) {
      notes.push(
        `${classes[c]}: no curve (the set has ${y.some((v) => v === 1) ? 'no negative' : 'no positive'} image)`
      )
      continue
    }
    const curve = rocCurve(y, s)
    roc.push({
      name: classes[c],
      points: curve.fpr.map((fpr, i) => ({ fpr, tpr: curve.tpr[i] })),
      auc,
      positives: y.reduce((a, v) => a + v, 0)
    })
  }
  const auc = metricById('auc').compute(p)
  return {
    task: p.task,
    classes: [...classes],
    n,
    confusion: p.task === 'single' ? confusionMatrix(p.yTrue, argmaxRows(p.probs, p.k), p.k) : null,
    labelCounts: p.task === 'multilabel' ? labelCounts : null,
    roc,
    auc: Number.isFinite(auc) ? auc : null,
    notes
  }
}
