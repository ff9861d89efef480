/**
 * The export entry point: one checkpoint (a member or a soup) → one deployable file (ONNX or
 * TF.js) carrying its model card, plus the card as Markdown on request.
 */
import type * as tf from '@tensorflow/tfjs'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { DEFAULT_NORMALISATION } from '../data/reader'
import { loadModel, readCheckpoint, weightsOf, type CheckpointMeta } from '../models/checkpoint'
import { assertExportSafe, cardToMarkdown, cardToMetadata, type ModelCard } from './card'
import { float32LeBytes, sha256Hex, writeFileAtomic } from './files'
import { convertLayersModel } from './onnx/convert'
import { encodeModel } from './onnx/model'
import { writeTfjsModel, weightsFileFor } from './tfjs'
import { RESEARCH_USE_STATEMENT } from '../../../shared/notices'

/** Export file formats. */
export type ExportFormat = 'onnx' | 'tfjs'

/** metadata_props key holding where each TF.js weight went in the ONNX graph (for re-import). */
export const ONNX_WEIGHTS_KEY = 'fissionfusion.weights'

/** What the caller knows about the model that the checkpoint does not. */
export interface CardInput {
  /** Version of the app writing the export. */
  appVersion: string
  /** Name shown to users ("GoG soup"). */
  modelName: string
  /** Dataset name (user-facing; never a path). */
  datasetName: string
  method: ModelCard['method']
  metrics: ModelCard['metrics']
}

/** Progress of an export: phase and overall fraction done in [0, 1]. */
export interface ExportProgress {
  phase: 'load' | 'convert' | 'write' | 'done'
  fraction: number
}

/** Options of {@link exportModel}. */
export interface ExportOptions {
  /** Checkpoint folder of the member or soup (models/checkpoint.ts). */
  checkpointDir: string
  format: ExportFormat
  /** The file to write: `x.onnx`, or `x.json` for TF.js (weights go to `x.weights.bin` beside it). */
  outFile: string
  card: CardInput
  /** Also write the card as Markdown beside the file (`x.md`). */
  withMarkdown?: boolean
  /** Strings that must not appear in the card (e.g. patient tag values seen at import). */
  forbidden?: readonly string[]
  /** Creation time to record (default now). */
  now?: Date
  onProgress?: (p: ExportProgress) => void
  signal?: AbortSignal
}

/** What an export wrote. */
export interface ExportResult {
  /** The main file (absolute). */
  file: string
  /** SHA-256 (hex) of the main file's bytes. */
  sha256: string
  card: ModelCard
  /** Every file written (main file, TF.js weights, Markdown card). */
  files: string[]
}

/** SHA-256 of a model's weights: float32 LE values in layer order (= a checkpoint's weights.bin). */
export function weightsSha256(model: tf.LayersModel): string {
  return sha256Hex(...weightsOf(model).map((w) => float32LeBytes(w.data)))
}

function perChannel(v: number | number[], channels: number, what: string): number[] {
  const a = typeof v === 'number' ? new Array<number>(channels).fill(v) : v
  if (a.length === 1 && channels > 1) return new Array<number>(channels).fill(a[0])
  if (a.length !== channels) throw new Error(`normalisation ${what} has ${a.length} values for ${channels} channels`)
  return a
}

/** The card of a checkpoint: what the checkpoint records plus what the caller supplies. */
export function buildCard(
  meta: Pick<CheckpointMeta, 'arch' | 'archOptions' | 'inputShape' | 'classes' | 'task' | 'normalization'>,
  input: CardInput,
  weightsSha: string,
  now: Date
): ModelCard {
  const [h, w, c] = meta.inputShape
  const norm = meta.normalization ?? DEFAULT_NORMALISATION
  return {
    cardVersion: 1,
    appVersion: input.appVersion,
    modelName: input.modelName,
    intendedUse: RESEARCH_USE_STATEMENT,
    createdAt: now.toISOString(),
    architecture: { name: meta.arch, options: { ...meta.archOptions } },
    dataset: { name: input.datasetName, task: meta.task, classes: [...meta.classes] },
    preprocessing: {
      size: [h, w],
      channels: c === 1 ? 1 : 3,
      layout: 'NHWC',
      scale: 1 / 255,
      mean: perChannel(norm.mean, c, 'mean'),
      std: perChannel(norm.std, c, 'std')
    },
    output: { name: 'probabilities', activation: meta.task === 'single' ? 'softmax' : 'sigmoid' },
    method: input.method,
    metrics: input.metrics,
    weightsSha256: weightsSha
  }
}

/** `x.onnx` / `x.json` → `x.md`. */
export function markdownFileFor(file: string): string {
  return join(dirname(file), `${basename(file, extname(file))}.md`)
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error('export cancelled')
}

/**
 * Exports a checkpoint as one ONNX file (or TF.js model.json + weights), with the model card
 * inside and, on request, beside it as Markdown. Every file is written atomically. Nothing is
 * written when the model has an unsupported layer or the card holds a path or patient data.
 */
export async function exportModel(options: ExportOptions): Promise<ExportResult> {
  const progress = options.onProgress ?? (() => {})
  const file = resolve(options.outFile)
  progress({ phase: 'load', fraction: 0 })
  const ckpt = await readCheckpoint(options.checkpointDir, { optimizer: false })
  const model = await loadModel(ckpt)
  try {
    checkAbort(options.signal)
    const card = buildCard(ckpt.meta, options.card, weightsSha256(model), options.now ?? new Date())
    assertExportSafe(card, 'card', options.forbidden)
    progress({ phase: 'convert', fraction: 0.2 })
    const files = [file]
    let bytes: Uint8Array
    if (options.format === 'onnx') {
      const graph = convertLayersModel(model, {
        outputName: card.output.name,
        outputActivation: card.output.activation
      })
      const metadata = { ...cardToMetadata(card), [ONNX_WEIGHTS_KEY]: JSON.stringify(graph.weights) }
      assertExportSafe(metadata, 'metadata', options.forbidden)
      bytes = encodeModel(
        graph,
        metadata,
        { name: 'FissionFusion Workstation', version: card.appVersion },
        cardToMarkdown(card)
      )
      checkAbort(options.signal)
      progress({ phase: 'write', fraction: 0.7 })
      await writeFileAtomic(file, [bytes], 'export')
    } else {
      checkAbort(options.signal)
      progress({ phase: 'write', fraction: 0.7 })
      bytes = (await writeTfjsModel(model, file, card)).json
      files.push(weightsFileFor(file))
    }
    if (options.withMarkdown) {
      const md = markdownFileFor(file)
      await writeFileAtomic(md, [new TextEncoder().encode(cardToMarkdown(card))], 'export', 'model card')
      files.push(md)
    }
    progress({ phase: 'done', fraction: 1 })
    return { file, sha256: sha256Hex(bytes), card, files }
  } finally {
    model.dispose()
  }
}
