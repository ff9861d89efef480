/**
 * The per-image predictions file (CSV) that evaluation and fusion write and the app reads back.
 * Plain text work only: no TensorFlow.js, so the Electron main process can read these files.
 */
import type { TaskKind } from '../data/types'
import type { Predictions } from './index'

/** What a predictions file holds: the rows of the split, the truth and the probabilities. */
export interface PredictionRows {
  task: TaskKind
  classes: readonly string[]
  /** Row index in the split of each image. */
  rows: ArrayLike<number>
  /** Single-label: class per image; multi-label: n × k (NaN = missing). */
  yTrue: ArrayLike<number>
  /** n × k probabilities in the model's class order. */
  probs: ArrayLike<number>
}

const num = (v: number): string => (Number.isNaN(v) ? '' : String(Number(v.toPrecision(8))))

/**
 * Per-image predictions as CSV: `index,label,p0,p1,…` (single-label) or
 * `index,label_0,…,label_{K−1},p_0,…,p_{K−1}` (multi-label, blank for a missing label).
 * `index` is the row in the split; probabilities are in the model's class order.
 */
export function predictionsCsv(r: PredictionRows): string {
  const k = r.classes.length
  const idx = Array.from({ length: k }, (_, j) => j)
  const header =
    r.task === 'single'
      ? ['index', 'label', ...idx.map((j) => `p${j}`)]
      : ['index', ...idx.map((j) => `label_${j}`), ...idx.map((j) => `p_${j}`)]
  const lines = [header.join(',')]
  for (let i = 0; i < r.rows.length; i++) {
    const truth = r.task === 'single' ? [String(r.yTrue[i])] : idx.map((j) => num(r.yTrue[i * k + j]))
    lines.push([String(r.rows[i]), ...truth, ...idx.map((j) => num(r.probs[i * k + j]))].join(','))
  }
  return lines.join('\n') + '\n'
}

/** Per-image predictions read back from {@link predictionsCsv}: the rows and the prediction set. */
export interface ParsedPredictions {
  /** Row index in the split of each image. */
  rows: Int32Array
  predictions: Predictions
}

/** Parses what {@link predictionsCsv} wrote (its header tells the task and the number of classes); throws naming the line that is wrong. */
export function parsePredictionsCsv(text: string): ParsedPredictions {
  const lines = text.split('\n').filter((l) => l !== '')
  const header = lines[0]?.split(',') ?? []
  const task: TaskKind = header[1] === 'label' ? 'single' : 'multilabel'
  const k = task === 'single' ? header.length - 2 : (header.length - 1) / 2
  if (header[0] !== 'index' || !(k >= 1) || !Number.isInteger(k))
    throw new Error('predictions: not a predictions file (header must be index,label,p0,… or index,label_0,…,p_0,…)')
  const n = lines.length - 1
  const rows = new Int32Array(n)
  const yTrue = task === 'single' ? new Int32Array(n) : new Float32Array(n * k)
  const probs = new Float32Array(n * k)
  const truthWidth = task === 'single' ? 1 : k
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',')
    if (cells.length !== header.length)
      throw new Error(`predictions: line ${i + 2} has ${cells.length} values, expected ${header.length}`)
    rows[i] = Number(cells[0])
    for (let j = 0; j < truthWidth; j++) yTrue[i * truthWidth + j] = cells[1 + j] === '' ? NaN : Number(cells[1 + j])
    for (let j = 0; j < k; j++) probs[i * k + j] = Number(cells[1 + truthWidth + j])
  }
  return { rows, predictions: { task, k, yTrue, probs } }
}
