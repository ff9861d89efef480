/**
 * Scores one model (a checkpoint folder) on one split of any cached dataset whose classes map
 * onto the model's, with bootstrap CIs, and writes per-image predictions as CSV so results
 * can be checked outside the app.
 */
import { DatasetReader } from '../data/reader'
import type { SplitName, TaskKind } from '../data/types'
import { loadModel, readCheckpointMeta } from '../models/checkpoint'
import { bootstrapMany, type BootstrapOptions, type ConfidenceInterval } from './bootstrap'
import { METRICS, type MetricId, type Predictions } from './index'
import { mapClasses, remapMultiLabels, remapSingleLabels, type ClassMapping } from './ood'
import { predictBatches, type ImageBatch } from './predict'

/** What to score. */
export interface EvaluateModelOptions {
  /** Checkpoint folder of the model. */
  checkpointDir: string
  /** Cache folder of the dataset. */
  datasetDir: string
  /** Split to score (default test). */
  split?: SplitName
  /** Explicit dataset class → model class names (others match by name). */
  classMap?: Record<string, string>
  bootstrap?: BootstrapOptions
  /** Images per inference batch (default 256). */
  batchSize?: number
  signal?: AbortSignal
}

/** Scores and per-image outputs of one model on one split. */
export interface EvaluateModelResult {
  task: TaskKind
  /** The model's class (or label) names, in probability-column order. */
  classes: string[]
  /** Images scored (images of unmapped classes are left out). */
  n: number
  metrics: Record<MetricId, ConfidenceInterval>
  /** Row index in the split of each scored image. */
  rows: Int32Array
  /** Truth in model classes: class index per image, or n × K of 1 / 0 / NaN. */
  yTrue: Int32Array | Float32Array
  /** n × K probabilities. */
  probs: Float32Array
  mapping: ClassMapping
  /** Adaptations made (resizing, channel repetition, classes left out). */
  notes: string[]
}

/** Scores a checkpoint on a dataset split; see the file header. */
export async function evaluateModel(o: EvaluateModelOptions): Promise<EvaluateModelResult> {
  const split = o.split ?? 'test'
  const batchSize = o.batchSize ?? 256
  const meta = await readCheckpointMeta(o.checkpointDir)
  const reader = await DatasetReader.open(o.datasetDir)
  try {
    const ds = reader.meta
    if (ds.task !== meta.task) throw new Error(`the dataset is ${ds.task} but the model is ${meta.task}`)
    const k = meta.classes.length
    const mapping = mapClasses(ds.classes, meta.classes, o.classMap)
    if (mapping.mapped.length === 0) throw new Error(`none of the dataset's classes (${ds.classes.join(', ')}) maps onto the model's (${meta.classes.join(', ')})`)
    const notes = mapping.unmappedSource.length ? [`classes left out (not in the model): ${mapping.unmappedSource.join(', ')}`] : []
    const labels = await reader.labels(split)
    const count = reader.count(split)
    let rows: Int32Array
    let yTrue: Int32Array | Float32Array
    if (ds.task === 'single') ({ rows, yTrue } = remapSingleLabels(labels, mapping))
    else {
      rows = Int32Array.from({ length: count }, (_, i) => i)
      yTrue = remapMultiLabels(labels, ds.classes.length, mapping, k)
    }
    const batches = async function* (): AsyncGenerator<ImageBatch> {
      for (let s = 0; s < rows.length; s += batchSize) {
        const idx = rows.subarray(s, Math.min(rows.length, s + batchSize))
        yield { x: await reader.readImages(split, idx), n: idx.length }
      }
    }
    const model = await loadModel(o.checkpointDir)
    let probs: Float32Array
    try {
      const p = await predictBatches(model, batches(), { task: ds.task, imageShape: [ds.size[0], ds.size[1], ds.channels], normalization: meta.normalization, signal: o.signal })
      probs = p.probs
      notes.push(...p.notes)
    } finally {
      model.dispose()
    }
    const predictions: Predictions = { task: ds.task, k, yTrue, probs }
    const metrics = bootstrapMany(predictions, Object.fromEntries(METRICS.map((m) => [m.id, m.compute])) as Record<MetricId, (p: Predictions) => number>, o.bootstrap)
    return { task: ds.task, classes: meta.classes, n: rows.length, metrics, rows, yTrue, probs, mapping, notes }
  } finally {
    await reader.close()
  }
}

const num = (v: number): string => (Number.isNaN(v) ? '' : String(Number(v.toPrecision(8))))

/**
 * Per-image predictions as CSV: `index,label,p0,p1,…` (single-label) or
 * `index,label_0,…,label_{K−1},p_0,…,p_{K−1}` (multi-label, blank for a missing label).
 * `index` is the row in the split; probabilities are in the model's class order.
 */
export function predictionsCsv(r: Pick<EvaluateModelResult, 'task' | 'classes' | 'rows' | 'yTrue' | 'probs'>): string {
  const k = r.classes.length
  const idx = Array.from({ length: k }, (_, j) => j)
  const header = r.task === 'single'
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
  if (header[0] !== 'index' || !(k >= 1) || !Number.isInteger(k)) throw new Error('predictions: not a predictions file (header must be index,label,p0,… or index,label_0,…,p_0,…)')
  const n = lines.length - 1
  const rows = new Int32Array(n)
  const yTrue = task === 'single' ? new Int32Array(n) : new Float32Array(n * k)
  const probs = new Float32Array(n * k)
  const truthWidth = task === 'single' ? 1 : k
  for (let i = 0; i < n; i++) {
    const cells = lines[i + 1].split(',')
    if (cells.length !== header.length) throw new Error(`predictions: line ${i + 2} has ${cells.length} values, expected ${header.length}`)
    rows[i] = Number(cells[0])
    for (let j = 0; j < truthWidth; j++) yTrue[i * truthWidth + j] = cells[1 + j] === '' ? NaN : Number(cells[1 + j])
    for (let j = 0; j < k; j++) probs[i * k + j] = Number(cells[1 + truthWidth + j])
  }
  return { rows, predictions: { task, k, yTrue, probs } }
}
