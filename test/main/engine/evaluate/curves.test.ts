// modelCurves against sklearn (Debian's python3-sklearn, run here on the same numbers), and the
// predictions CSV read back exactly as written.
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { modelCurves } from '../../../../src/main/engine/evaluate/curves'
import { parsePredictionsCsv, predictionsCsv } from '../../../../src/main/engine/evaluate/model'
import { Rng } from '../../../../src/main/engine/data/rng'

const SKLEARN = `
import json, sys, numpy as np
from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix, roc_curve, roc_auc_score
d = json.load(sys.stdin)
y = np.array(d['y'], dtype=float); p = np.array(d['p']).reshape(-1, d['k'])
out = {'roc': [], 'confusion': None}
if d['task'] == 'single':
    out['confusion'] = confusion_matrix(y, p.argmax(1), labels=list(range(d['k']))).tolist()
    y = np.stack([(y == c).astype(float) for c in range(d['k'])], 1)
else:
    y = y.reshape(-1, d['k'])
out['labels'] = []
for c in range(d['k']):
    m = ~np.isnan(y[:, c])
    (tn, fp), (fn, tp) = multilabel_confusion_matrix(y[m, c], (p[m, c] >= 0.5).astype(float), labels=[1])[0]
    out['labels'].append({'tp': int(tp), 'fp': int(fp), 'fn': int(fn), 'tn': int(tn)})
    fpr, tpr, _ = roc_curve(y[m, c], p[m, c])
    out['roc'].append({'fpr': fpr.tolist(), 'tpr': tpr.tolist(), 'auc': roc_auc_score(y[m, c], p[m, c])})
print(json.dumps(out))
`

interface Sk {
  roc: { fpr: number[]; tpr: number[]; auc: number }[]
  confusion: number[][] | null
  labels: { tp: number; fp: number; fn: number; tn: number }[]
}
const sklearn = (task: string, k: number, y: ArrayLike<number>, p: ArrayLike<number>): Sk =>
  JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', SKLEARN], {
      input: JSON.stringify({ task, k, y: Array.from(y, (v) => (Number.isNaN(v) ? null : v)), p: Array.from(p) })
    }).toString()
  ) as Sk

/** Rounded scores so that ties occur, as they do with a small model. */
function randomProbs(rng: Rng, n: number, k: number, softmax: boolean): Float32Array {
  const p = new Float32Array(n * k)
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: k }, () => Math.round(rng.next() * 10) / 10 + 0.01)
    const s = softmax ? row.reduce((a, v) => a + v, 0) : 1
    row.forEach((v, j) => (p[i * k + j] = v / s))
  }
  return p
}

describe('modelCurves', () => {
  it("single-label: confusion matrix and one-vs-rest curves and areas equal sklearn's", () => {
    const rng = new Rng(7)
    const n = 60
    const k = 3
    const yTrue = Int32Array.from({ length: n }, () => rng.int(k))
    const probs = randomProbs(rng, n, k, true)
    const c = modelCurves({ task: 'single', k, yTrue, probs }, ['a', 'b', 'c'])
    const sk = sklearn('single', k, yTrue, probs)
    expect(c.n).toBe(n)
    expect(c.confusion).toEqual(sk.confusion)
    expect(c.labelCounts).toBeNull()
    expect(c.roc.map((r) => r.name)).toEqual(['a', 'b', 'c'])
    c.roc.forEach((r, j) => {
      expect(r.points.map((q) => q.fpr)).toEqual(sk.roc[j].fpr.map((v) => expect.closeTo(v, 12)))
      expect(r.points.map((q) => q.tpr)).toEqual(sk.roc[j].tpr.map((v) => expect.closeTo(v, 12)))
      expect(r.auc).toBeCloseTo(sk.roc[j].auc, 12)
    })
    expect(c.auc).toBeCloseTo(sk.roc.reduce((a, r) => a + r.auc, 0) / k, 12)
    expect(c.notes).toEqual([])
  })

  it('multi-label with blanks: one masked curve per label, no confusion matrix; a label without negatives is named', () => {
    const rng = new Rng(11)
    const n = 40
    const k = 3
    const yTrue = Float32Array.from({ length: n * k }, (_, i) =>
      i % k === 2 ? 1 : rng.next() < 0.15 ? NaN : rng.int(2)
    )
    const probs = randomProbs(rng, n, k, false)
    const c = modelCurves({ task: 'multilabel', k, yTrue, probs }, ['x', 'y', 'z'])
    const sk = sklearn(
      'multilabel',
      2,
      Float32Array.from({ length: n * 2 }, (_, i) => yTrue[Math.floor(i / 2) * k + (i % 2)]),
      Float32Array.from({ length: n * 2 }, (_, i) => probs[Math.floor(i / 2) * k + (i % 2)])
    )
    expect(c.confusion).toBeNull()
    expect(c.labelCounts!.slice(0, 2)).toEqual(sk.labels.map((l, j) => ({ name: ['x', 'y'][j], ...l })))
    expect(c.labelCounts![2]).toMatchObject({ name: 'z', fp: 0, tn: 0 })
    expect(c.roc.map((r) => r.name)).toEqual(['x', 'y'])
    c.roc.forEach((r, j) => expect(r.auc).toBeCloseTo(sk.roc[j].auc, 12))
    expect(c.notes).toEqual(['z: no curve (the set has no negative image)'])
  })
})

describe('parsePredictionsCsv', () => {
  it('reads back what predictionsCsv wrote (rows, truth with blanks, probabilities to 8 digits)', () => {
    const probs = Float32Array.from([0.25, 0.75, 0.5, 0.5, 0.125, 0.875])
    const single = parsePredictionsCsv(
      predictionsCsv({
        task: 'single',
        classes: ['a', 'b'],
        rows: Int32Array.from([4, 7, 9]),
        yTrue: Int32Array.from([1, 0, 1]),
        probs
      })
    )
    expect(Array.from(single.rows)).toEqual([4, 7, 9])
    expect(single.predictions).toMatchObject({ task: 'single', k: 2 })
    expect(Array.from(single.predictions.yTrue)).toEqual([1, 0, 1])
    expect(Array.from(single.predictions.probs)).toEqual(Array.from(probs))
    const multi = parsePredictionsCsv(
      predictionsCsv({
        task: 'multilabel',
        classes: ['a', 'b'],
        rows: Int32Array.from([0, 1, 2]),
        yTrue: Float32Array.from([1, NaN, 0, 1, 0, 0]),
        probs
      })
    )
    expect(multi.predictions.k).toBe(2)
    expect(Array.from(multi.predictions.yTrue)).toEqual([1, NaN, 0, 1, 0, 0])
    expect(() => parsePredictionsCsv('a,b\n1,2\n')).toThrow(/not a predictions file/)
    expect(() => parsePredictionsCsv('index,label,p0,p1\n0,1,0.5\n')).toThrow(/line 2 has 3 values, expected 4/)
  })
})
