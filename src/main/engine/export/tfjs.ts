/**
 * TF.js export: a standard `model.json` (format "layers-model") plus one weights file beside it,
 * loadable with `tf.loadLayersModel`. The exported model ends in an Activation layer named
 * "probabilities" (softmax or sigmoid), and `userDefinedMetadata["fissionfusion.card"]` holds
 * the model card.
 */
import * as tf from '@tensorflow/tfjs'
import { promises as fsp } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { ModelCardSchema, type ModelCard } from './card'
import { writeFileAtomic } from './files'

/** Key of the model card in model.json's `userDefinedMetadata`. */
export const TFJS_CARD_KEY = 'fissionfusion.card'

/** Name of the weights file written beside `modelJsonPath`: `<name>.weights.bin`. */
export function weightsFileFor(modelJsonPath: string): string {
  return join(dirname(modelJsonPath), `${basename(modelJsonPath).replace(/\.json$/i, '')}.weights.bin`)
}

function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  return new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data)
}

/**
 * Writes `model` (which outputs logits) as TF.js files with a probability output; each file
 * atomically, the weights first so model.json never points at a missing file.
 * @returns the bytes of model.json and of the weights file as written
 */
export async function writeTfjsModel(
  model: tf.LayersModel,
  modelJsonPath: string,
  card: ModelCard
): Promise<{ json: Uint8Array; weights: Uint8Array }> {
  // A wrapper over the same layers: no weights are copied and none are owned by the wrapper.
  const probs = tf.layers
    .activation({ activation: card.output.activation, name: card.output.name })
    .apply(model.outputs[0]) as tf.SymbolicTensor
  const wrapped = tf.model({ inputs: model.inputs, outputs: probs, name: model.name })
  let artifacts: tf.io.ModelArtifacts | undefined
  await wrapped.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    })
  )
  if (!artifacts) throw new Error('internal: TF.js did not hand over the model artifacts')
  const weights = joinWeightData(artifacts.weightData)
  const modelJson: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    weightsManifest: [{ paths: [basename(weightsFileFor(modelJsonPath))], weights: artifacts.weightSpecs ?? [] }],
    userDefinedMetadata: { [TFJS_CARD_KEY]: card }
  }
  const json = new TextEncoder().encode(JSON.stringify(modelJson))
  await writeFileAtomic(weightsFileFor(modelJsonPath), [weights], 'export')
  await writeFileAtomic(modelJsonPath, [json], 'export')
  return { json, weights }
}

/** Loads model.json and its weight files (named in the manifest, beside it) from the local disk. */
export async function loadTfjsArtifacts(modelJsonPath: string): Promise<tf.io.ModelArtifacts> {
  const modelJson = JSON.parse(await fsp.readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON
  return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const buffers: ArrayBuffer[] = []
    for (const group of manifest) {
      for (const p of group.paths) {
        if (p.includes('/') || p.includes('\\'))
          throw new Error(`${basename(modelJsonPath)}: weights path "${p}" must be a file name beside it`)
        const b = await fsp.readFile(join(dirname(modelJsonPath), p))
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)
      }
    }
    return [manifest.flatMap((g) => g.weights), tf.io.concatenateArrayBuffers(buffers)]
  })
}

/** A TF.js IOHandler for `tf.loadLayersModel` reading a model.json from the local disk. */
export function tfjsFileHandler(modelJsonPath: string): tf.io.IOHandler {
  return { load: () => loadTfjsArtifacts(modelJsonPath) }
}

/** The card and weights (by stable name) of an exported TF.js model. */
export async function readTfjsExport(
  modelJsonPath: string
): Promise<{ card: ModelCard; weights: Map<string, { shape: number[]; data: Float32Array }> }> {
  const artifacts = await loadTfjsArtifacts(modelJsonPath)
  const rawCard = (artifacts.userDefinedMetadata as Record<string, unknown> | undefined)?.[TFJS_CARD_KEY]
  if (rawCard === undefined)
    throw new Error(
      `${basename(modelJsonPath)}: no FissionFusion model card in userDefinedMetadata; not an export of this app`
    )
  const parsed = ModelCardSchema.safeParse(rawCard)
  if (!parsed.success)
    throw new Error(
      `${basename(modelJsonPath)}: model card: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`
    )
  const tensors = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), artifacts.weightSpecs ?? [])
  const weights = new Map<string, { shape: number[]; data: Float32Array }>()
  for (const [name, t] of Object.entries(tensors)) {
    weights.set(name, { shape: t.shape, data: Float32Array.from(t.dataSync()) })
    t.dispose()
  }
  return { card: parsed.data, weights }
}
