/**
 * Re-import of an exported file (ONNX or TF.js, written by {@link exportModel}) as a checkpoint,
 * the starting point of a new run. The architecture is rebuilt from the model card and every
 * weight is taken back by its stable name; the weights' SHA-256 must equal the card's.
 */
import { promises as fsp } from 'node:fs'
import { basename } from 'node:path'
import { getArch } from '../models/index'
import { CHECKPOINT_FORMAT, type Checkpoint, type NamedWeight } from '../models/checkpoint'
import { cardFromMetadata, type ModelCard } from './card'
import { ONNX_WEIGHTS_KEY } from './export'
import { float32LeBytes, sha256Hex } from './files'
import type { WeightEntry } from './onnx/convert'
import { fromOnnxLayout } from './onnx/layout'
import { decodeModel } from './onnx/model'
import { readTfjsExport } from './tfjs'

/** An imported export: its card and a checkpoint of the same weights. */
export interface ImportedModel {
  card: ModelCard
  /** Ready for `loadModel` or `writeCheckpoint` (no optimizer state, no trainer history). */
  checkpoint: Checkpoint
}

type Lookup = (name: string, shape: number[]) => Float32Array

/** Rebuilds the card's architecture and fills its weights through `lookup`. */
function checkpointFromCard(card: ModelCard, lookup: Lookup, file: string): Checkpoint {
  const inputShape: [number, number, number] = [
    card.preprocessing.size[0],
    card.preprocessing.size[1],
    card.preprocessing.channels
  ]
  const model = getArch(card.architecture.name).build({
    ...card.architecture.options,
    inputShape,
    numClasses: card.dataset.classes.length,
    seed: 0
  })
  const weights: NamedWeight[] = []
  try {
    for (const layer of model.layers) {
      for (const v of layer.weights) {
        const shape = v.shape as number[]
        const data = lookup(v.originalName, shape)
        if (data.length !== shape.reduce((a, b) => a * b, 1))
          throw new Error(`${file}: weight ${v.originalName} has ${data.length} values for shape [${shape}]`)
        const kind = /\/moving_(mean|variance)$/.test(v.originalName) || !v.trainable ? 'bn-stat' : 'trainable'
        weights.push({ name: v.originalName, shape, kind, data })
      }
    }
  } finally {
    model.dispose()
  }
  const sha = sha256Hex(...weights.map((w) => float32LeBytes(w.data)))
  if (sha !== card.weightsSha256)
    throw new Error(`${file}: weights do not match the card's SHA-256 (file modified after export?)`)
  return {
    meta: {
      format: CHECKPOINT_FORMAT,
      version: 1,
      arch: card.architecture.name,
      archOptions: card.architecture.options,
      inputShape,
      classes: card.dataset.classes,
      task: card.dataset.task,
      output: 'logits',
      normalization: { mean: card.preprocessing.mean, std: card.preprocessing.std },
      info: {
        importedFrom: {
          modelName: card.modelName,
          createdAt: card.createdAt,
          appVersion: card.appVersion,
          weightsSha256: card.weightsSha256
        }
      }
    },
    weights
  }
}

/** Imports an exported ONNX file. */
export async function importOnnx(path: string): Promise<ImportedModel> {
  const file = basename(path)
  let decoded: ReturnType<typeof decodeModel>
  let card: ModelCard
  try {
    decoded = decodeModel(await fsp.readFile(path))
    card = cardFromMetadata(decoded.metadata)
  } catch (e) {
    throw new Error(`${file}: not a readable FissionFusion ONNX export: ${(e as Error).message}`)
  }
  const map = JSON.parse(decoded.metadata[ONNX_WEIGHTS_KEY] ?? 'null') as Record<string, WeightEntry> | null
  if (map === null) throw new Error(`${file}: no "${ONNX_WEIGHTS_KEY}" metadata; not an export of this app`)
  const checkpoint = checkpointFromCard(
    card,
    (name, shape) => {
      const entry = map[name]
      const init = entry && decoded.initializers.get(entry.initializer)
      if (!entry || !init) throw new Error(`${file}: weight ${name} of ${card.architecture.name} is not in the file`)
      return fromOnnxLayout(entry.layout, init.values, shape)
    },
    file
  )
  return { card, checkpoint }
}

/** Imports an exported TF.js model.json (its weights file beside it). */
export async function importTfjs(path: string): Promise<ImportedModel> {
  const file = basename(path)
  const { card, weights } = await readTfjsExport(path)
  const checkpoint = checkpointFromCard(
    card,
    (name, shape) => {
      const w = weights.get(name)
      if (!w) throw new Error(`${file}: weight ${name} of ${card.architecture.name} is not in the file`)
      if (w.shape.join() !== shape.join())
        throw new Error(`${file}: weight ${name} has shape [${w.shape}], the architecture needs [${shape}]`)
      return w.data
    },
    file
  )
  return { card, checkpoint }
}

/** Imports an exported file, ONNX or TF.js (`.json`). */
export function importExportedModel(path: string): Promise<ImportedModel> {
  return path.toLowerCase().endsWith('.json') ? importTfjs(path) : importOnnx(path)
}
