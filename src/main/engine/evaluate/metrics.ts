/**
 * Classification metrics, each equal to scikit-learn's definition (checked against
 * fixtures from Debian's python3-sklearn 1.2 to 1e-9, test/fixtures/sklearn/).
 *
 * Pure functions on plain / typed arrays; nothing here touches tfjs. An undefined
 * value (AUROC with one class, kappa with one label) is returned as NaN, never thrown.
 */

/** A read-only numeric sequence: number[] or any typed array. */
export type Num = ArrayLike<number>

/** Index of the first maximum of each row of a row-major N × K matrix (numpy argmax semantics). */
export function argmaxRows(probs: Num, k: number): Int32Array {
  const n = Math.floor(probs.length / k)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    let best = 0
    let bestV = probs[i * k]
    for (let j = 1; j < k; j++) {
      const v = probs[i * k + j]
      if (v > bestV) {
        best = j
        bestV = v
      }
    }
    out[i] = best
  }
  return out
}

/** Sorted union of the values of `a` and `b` (sklearn's `unique_labels`). */
export function unionLabels(a: Num, b: Num): number[] {
  const s = new Set<number>()
  for (let i = 0; i < a.length; i++) s.add(a[i])
  for (let i = 0; i < b.length; i++) s.add(b[i])
  return [...s].sort((x, y) => x - y)
}

function checkSameLength(a: Num, b: Num): void {
  if (a.length !== b.length) throw new Error(`metrics: yTrue has ${a.length} entries but yPred has ${b.length}`)
}

/** Fraction of samples with yPred equal to yTrue, in [0, 1] (sklearn `accuracy_score`). NaN when empty. */
export function accuracy(yTrue: Num, yPred: Num): number {
  checkSameLength(yTrue, yPred)
  let hits = 0
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++
  return yTrue.length === 0 ? NaN : hits / yTrue.length
}

/**
 * Confusion matrix C[i][j] = number of samples of true label `labels[i]` predicted as `labels[j]`
 * (sklearn `confusion_matrix`). `labels` defaults to 0..k-1 when a class count is given, else to
 * the sorted union of both arrays. Samples whose labels are not listed are ignored.
 */
export function confusionMatrix(
  yTrue: Num,
  yPred: Num,
  labels: number | readonly number[] = unionLabels(yTrue, yPred)
): number[][] {
  checkSameLength(yTrue, yPred)
  const list = typeof labels === 'number' ? Array.from({ length: labels }, (_, i) => i) : labels
  const index = new Map(list.map((l, i) => [l, i]))
  const c = list.map(() => new Array<number>(list.length).fill(0))
  for (let i = 0; i < yTrue.length; i++) {
    const r = index.get(yTrue[i])
    const q = index.get(yPred[i])
    if (r !== undefined && q !== undefined) c[r][q]++
  }
  return c
}

/** Per-label true positives, predicted and true counts over `labels`. */
function labelCounts(
  yTrue: Num,
  yPred: Num,
  labels: readonly number[]
): { tp: number[]; pred: number[]; truth: number[] } {
  const c = confusionMatrix(yTrue, yPred, labels)
  const tp = c.map((row, i) => row[i])
  const truth = c.map((row) => row.reduce((s, v) => s + v, 0))
  const pred = c.map((_, j) => c.reduce((s, row) => s + row[j], 0))
  return { tp, pred, truth }
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN
  let s = 0
  for (const v of values) s += v
  return s / values.length
}

/** tp / d with sklearn's zero_division = 0 (the "warn" default returns 0). */
const ratio = (tp: number, d: number): number => (d === 0 ? 0 : tp / d)

/**
 * Macro-averaged F1 over `labels` (default: union of yTrue and yPred), sklearn
 * `f1_score(average='macro')`: a label never predicted nor present scores 0.
 */
export function macroF1(yTrue: Num, yPred: Num, labels: readonly number[] = unionLabels(yTrue, yPred)): number {
  const { tp, pred, truth } = labelCounts(yTrue, yPred, labels)
  return mean(
    tp.map((t, i) => {
      const p = ratio(t, pred[i])
      const r = ratio(t, truth[i])
      const d = p + r
      return d === 0 ? 0 : (2 * p * r) / d
    })
  )
}

/**
 * Macro-averaged recall over `labels` (default: union of yTrue and yPred), sklearn
 * `recall_score(average='macro')`. Equals balanced accuracy when every predicted label also
 * occurs in yTrue; a label only predicted counts as recall 0 here (see {@link balancedAccuracy}).
 */
export function macroRecall(yTrue: Num, yPred: Num, labels: readonly number[] = unionLabels(yTrue, yPred)): number {
  const { tp, truth } = labelCounts(yTrue, yPred, labels)
  return mean(tp.map((t, i) => ratio(t, truth[i])))
}

/** sklearn `balanced_accuracy_score`: mean recall over the labels present in yTrue. */
export function balancedAccuracy(yTrue: Num, yPred: Num): number {
  const labels = unionLabels(yTrue, yPred)
  const { tp, truth } = labelCounts(yTrue, yPred, labels)
  return mean(tp.flatMap((t, i) => (truth[i] > 0 ? [t / truth[i]] : [])))
}

/**
 * Cohen's kappa with quadratic weights, sklearn `cohen_kappa_score(weights='quadratic')`.
 * Weights are (i − j)² on the positions in `labels` (default: the sorted union of both arrays,
 * as sklearn; pass every class index to weigh by grade distance). NaN when undefined
 * (a single label).
 */
export function quadraticKappa(yTrue: Num, yPred: Num, labels: readonly number[] = unionLabels(yTrue, yPred)): number {
  const c = confusionMatrix(yTrue, yPred, labels)
  const k = labels.length
  const rows = c.map((row) => row.reduce((s, v) => s + v, 0))
  const cols = c.map((_, j) => c.reduce((s, row) => s + row[j], 0))
  const total = cols.reduce((s, v) => s + v, 0)
  let observed = 0
  let expected = 0
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = (i - j) * (i - j)
      observed += w * c[i][j]
      expected += (w * cols[i] * rows[j]) / total
    }
  }
  return 1 - observed / expected
}

/** Points of a ROC curve, as sklearn `roc_curve(drop_intermediate=True)` returns them. */
export interface RocCurve {
  /** False-positive rate per threshold, non-decreasing from 0 to 1. */
  fpr: number[]
  /** True-positive rate per threshold, non-decreasing from 0 to 1. */
  tpr: number[]
  /** Decreasing score thresholds; the first is max score + 1 (sklearn 1.2). */
  thresholds: number[]
}

/** Cumulative false/true positives at each distinct score, scores in decreasing order (sklearn `_binary_clf_curve`). */
function binaryClfCurve(yTrue: Num, scores: Num): { fps: number[]; tps: number[]; thr: number[] } {
  checkSameLength(yTrue, scores)
  const n = yTrue.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a])
  const fps: number[] = []
  const tps: number[] = []
  const thr: number[] = []
  let tp = 0
  for (let r = 0; r < n; r++) {
    const i = order[r]
    if (yTrue[i] === 1) tp++
    if (r === n - 1 || scores[order[r + 1]] !== scores[i]) {
      tps.push(tp)
      fps.push(r + 1 - tp)
      thr.push(scores[i])
    }
  }
  return { fps, tps, thr }
}

/**
 * ROC curve of binary labels (1 = positive, anything else negative) against scores.
 * Returns NaN rates when a class is absent (sklearn warns and does the same).
 */
export function rocCurve(yTrue: Num, scores: Num): RocCurve {
  let { fps, tps, thr } = binaryClfCurve(yTrue, scores)
  if (fps.length > 2) {
    // drop points collinear with their neighbours, as sklearn does (the area is unchanged)
    const keep = fps.map(
      (_, i) =>
        i === 0 ||
        i === fps.length - 1 ||
        fps[i + 1] - 2 * fps[i] + fps[i - 1] !== 0 ||
        tps[i + 1] - 2 * tps[i] + tps[i - 1] !== 0
    )
    fps = fps.filter((_, i) => keep[i])
    tps = tps.filter((_, i) => keep[i])
    thr = thr.filter((_, i) => keep[i])
  }
  const fMax = fps.length ? fps[fps.length - 1] : 0
  const tMax = tps.length ? tps[tps.length - 1] : 0
  return {
    fpr: [0, ...fps].map((v) => v / fMax),
    tpr: [0, ...tps].map((v) => v / tMax),
    thresholds: [(thr[0] ?? 0) + 1, ...thr]
  }
}

/**
 * Binary AUROC (sklearn `roc_auc_score`): the area under the ROC curve over distinct thresholds,
 * so a tie between a positive and a negative counts one half. yTrue holds 1 for positives,
 * anything else for negatives. NaN when only one class is present.
 *
 * Computed as the equal Mann–Whitney count over natively sorted positive and negative scores
 * (the trapezoids of {@link rocCurve} sum to the same value; this is ~10× faster for bootstraps).
 */
export function binaryAuroc(yTrue: Num, scores: Num): number {
  checkSameLength(yTrue, scores)
  let p = 0
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 1) p++
  const q = yTrue.length - p
  if (p === 0 || q === 0) return NaN
  const pos = new Float64Array(p)
  const neg = new Float64Array(q)
  for (let i = 0, a = 0, b = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) pos[a++] = scores[i]
    else neg[b++] = scores[i]
  }
  pos.sort()
  neg.sort()
  // for each positive: negatives strictly below it, plus half the negatives equal to it
  let below = 0
  let upTo = 0
  let pairs = 0
  for (let i = 0; i < p; i++) {
    const s = pos[i]
    while (below < q && neg[below] < s) below++
    if (upTo < below) upTo = below
    while (upTo < q && neg[upTo] <= s) upTo++
    pairs += below + (upTo - below) / 2
  }
  return pairs / p / q
}

/**
 * One-vs-rest macro AUROC of a single-label task (sklearn `roc_auc_score(multi_class='ovr',
 * average='macro')`). probs is row-major N × k. For k = 2 this is the binary AUROC of column 1.
 * sklearn refuses a class absent from yTrue; here such classes are left out of the mean
 * (NaN when none is left).
 */
export function ovrMacroAuroc(yTrue: Num, probs: Num, k: number): number {
  const n = yTrue.length
  if (probs.length !== n * k) throw new Error(`metrics: probs has ${probs.length} values, expected ${n} × ${k}`)
  const column = (c: number): Float64Array => {
    const s = new Float64Array(n)
    for (let i = 0; i < n; i++) s[i] = probs[i * k + c]
    return s
  }
  const isClass = (c: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (yTrue[i] === c ? 1 : 0))
  if (k === 2) return binaryAuroc(isClass(1), column(1))
  const per: number[] = []
  for (let c = 0; c < k; c++) {
    const a = binaryAuroc(isClass(c), column(c))
    if (!Number.isNaN(a)) per.push(a)
  }
  return mean(per)
}

/** Per-label columns of a multi-label task, keeping only the rows whose label is not blank. */
function maskedColumn(yTrue: Num, scores: Num, l: number, j: number): { y: Uint8Array; s: Float64Array } {
  const n = Math.floor(yTrue.length / l)
  const y: number[] = []
  const s: number[] = []
  for (let i = 0; i < n; i++) {
    const v = yTrue[i * l + j]
    if (Number.isNaN(v)) continue
    y.push(v === 1 ? 1 : 0)
    s.push(scores[i * l + j])
  }
  return { y: Uint8Array.from(y), s: Float64Array.from(s) }
}

/**
 * Multi-label mean AUROC: yTrue and scores row-major N × l, yTrue 1 / 0 / NaN (NaN = blank,
 * masked out). The mean of sklearn's binary AUROC over the labels where both classes occur.
 */
export function multilabelAuroc(yTrue: Num, scores: Num, l: number): number {
  if (yTrue.length !== scores.length)
    throw new Error(`metrics: yTrue has ${yTrue.length} values but scores ${scores.length}`)
  const per: number[] = []
  for (let j = 0; j < l; j++) {
    const { y, s } = maskedColumn(yTrue, scores, l, j)
    const a = binaryAuroc(y, s)
    if (!Number.isNaN(a)) per.push(a)
  }
  return mean(per)
}

/** Threshold-based metrics of a multi-label task at score ≥ `threshold`, blanks masked. */
export interface MultilabelThresholdMetrics {
  /** Fraction of non-blank (image, label) entries predicted right, in [0, 1]. */
  acc: number
  /** Mean over labels with any non-blank entry of the binary F1 of the positive class. */
  f1: number
  /** Mean over the same labels of the binary recall of the positive class (0 when no positive). */
  recall: number
}

/** Accuracy, F1 and recall of a multi-label task (see {@link MultilabelThresholdMetrics}). */
export function multilabelThresholdMetrics(
  yTrue: Num,
  scores: Num,
  l: number,
  threshold = 0.5
): MultilabelThresholdMetrics {
  let hits = 0
  let seen = 0
  const f1: number[] = []
  const recall: number[] = []
  for (let j = 0; j < l; j++) {
    const { y, s } = maskedColumn(yTrue, scores, l, j)
    if (y.length === 0) continue
    const pred = Uint8Array.from(s, (v) => (v >= threshold ? 1 : 0))
    let tp = 0
    let predPos = 0
    let truePos = 0
    for (let i = 0; i < y.length; i++) {
      if (y[i] === pred[i]) hits++
      tp += y[i] & pred[i]
      predPos += pred[i]
      truePos += y[i]
    }
    seen += y.length
    const p = ratio(tp, predPos)
    const r = ratio(tp, truePos)
    f1.push(p + r === 0 ? 0 : (2 * p * r) / (p + r))
    recall.push(r)
  }
  return { acc: seen === 0 ? NaN : hits / seen, f1: mean(f1), recall: mean(recall) }
}
