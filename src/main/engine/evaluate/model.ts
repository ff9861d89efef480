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
    if (mapping.mapped.length === 0)
      throw new Error(
        `none of the dataset's classes (${ds.classes.join(', ')}) maps onto the model's (${meta.classes.join(', ')})`
      )
    const notes = mapping.unmappedSource.length
      ? [`classes left out (not in the model): ${mapping.unmappedSource.join(', ')}`]
      : []
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
      const p = await predictBatches(model, batches(), {
        task: ds.task,
        imageShape: [ds.size[0], ds.size[1], ds.channels],
        normalization: meta.normalization,
        signal: o.signal
      })
      probs = p.probs
      notes.push(...p.notes)
    } finally {
      model.dispose()
    }
    const predictions: Predictions = { task: ds.task, k, yTrue, probs }
    const metrics = bootstrapMany(
      predictions,
      Object.fromEntries(METRICS.map((m) => [m.id, m.compute])) as Record<MetricId, (p: Predictions) => number>,
      o.bootstrap
    )
    return { task: ds.task, classes: meta.classes, n: rows.length, metrics, rows, yTrue, probs, mapping, notes }
  } finally {
    await reader.close()
  }
}

export { parsePredictionsCsv, predictionsCsv, type ParsedPredictions } from './predictions-csv'
