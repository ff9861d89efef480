/**
 * Starting points of a fine-tuning: a seeded random model, the backbone of a workspace
 * checkpoint with a new head, or the weights of an imported TF.js LayersModel whose layer names
 * match the architecture.
 */
import * as tf from '@tensorflow/tfjs'
import { promises as fsp } from 'node:fs'
import { dirname, join } from 'node:path'
import { type Checkpoint, type NamedWeight, readCheckpoint, setWeights } from './checkpoint'
import { getArch } from './index'
import { HEAD_LAYER, type ArchBuildOptions } from './types'
import { fitVitWeights } from './vit-weights'

/** A model to start from, with what was transferred. */
export interface StartingPoint {
  model: tf.LayersModel
  /** Weight names copied from the source (empty for a random start). */
  transferred: string[]
  /** Weight names left at their seeded initial values (the new head at least). */
  initialised: string[]
}

/** What to build. */
export interface StartOptions extends ArchBuildOptions {
  arch: string
}

const isHead = (name: string): boolean => name.startsWith(`${HEAD_LAYER}/`)

/** A seeded random model. */
export function randomStart(o: StartOptions): StartingPoint {
  const { arch, ...build } = o
  const model = getArch(arch).build(build)
  return { model, transferred: [], initialised: model.weights.map((w) => w.originalName) }
}

/**
 * Transfers every weight but the head's from `weights` into a fresh seeded model. Fails, naming
 * the weight, on a shape mismatch; fails when no backbone weight matches at all.
 * @param keepHead also copy the head (only when its shape matches: same number of classes)
 */
export function transferStart(
  o: StartOptions,
  weights: NamedWeight[],
  source: string,
  keepHead = false
): StartingPoint {
  const start = randomStart(o)
  try {
    const report = setWeights(start.model, fitVitWeights(start.model, weights), (name) => isHead(name) && !keepHead)
    if (!report.assigned.some((n) => !isHead(n))) {
      throw new Error(
        `${source}: none of its weight names match architecture ${o.arch} (e.g. ${weights
          .slice(0, 3)
          .map((w) => w.name)
          .join(', ')})`
      )
    }
    return { model: start.model, transferred: report.assigned, initialised: report.kept }
  } catch (e) {
    start.model.dispose()
    throw e
  }
}

/**
 * Backbone of a workspace checkpoint (its architecture unless `arch` says otherwise) with a new head.
 * The model is built with the checkpoint's architecture options (e.g. a free-form ViT's dimensions)
 * overridden by those set in `o`; `options` says which it was built with (what its checkpoints must record).
 */
export async function checkpointStart(
  dir: string,
  o: Omit<StartOptions, 'arch' | 'inputShape'> & Partial<Pick<StartOptions, 'arch' | 'inputShape'>>
): Promise<StartingPoint & { source: Checkpoint; options: StartOptions }> {
  const source = await readCheckpoint(dir, { optimizer: false })
  const { arch, archOptions, inputShape } = source.meta
  const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  const options: StartOptions = { ...archOptions, arch, inputShape, ...defined } as StartOptions
  return { ...transferStart(options, source.weights, dir), source, options }
}

/** A TF.js weights manifest group (model.json `weightsManifest[*]`). */
interface ManifestGroup {
  paths: string[]
  weights: { name: string; shape: number[]; dtype: string }[]
}

/**
 * Weights of a TF.js LayersModel saved as `model.json` + binary shards (tfjs `model.save`
 * format). Only float32 weights are supported; quantised or other dtypes are an error naming the
 * weight.
 */
export async function readTfjsWeights(modelJson: string): Promise<NamedWeight[]> {
  const doc = JSON.parse(await fsp.readFile(modelJson, 'utf8')) as { weightsManifest?: ManifestGroup[] }
  if (!Array.isArray(doc.weightsManifest))
    throw new Error(`${modelJson}: no weightsManifest (not a TF.js LayersModel file)`)
  const out: NamedWeight[] = []
  for (const group of doc.weightsManifest) {
    const parts = await Promise.all(group.paths.map((p) => fsp.readFile(join(dirname(modelJson), p))))
    const buf = Buffer.concat(parts)
    let offset = 0
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || 'quantization' in w)
        throw new Error(
          `${modelJson}: weight ${w.name} is ${w.dtype}${'quantization' in w ? ' (quantised)' : ''}; only float32 is supported`
        )
      const size = w.shape.reduce((a, b) => a * b, 1) * 4
      if (offset + size > buf.byteLength)
        throw new Error(`${modelJson}: weight ${w.name} lies past the end of its shards`)
      const data = new Float32Array(size / 4)
      new Uint8Array(data.buffer).set(buf.subarray(offset, offset + size))
      out.push({
        name: w.name,
        shape: w.shape,
        kind: /moving_(mean|variance)$/.test(w.name) ? 'bn-stat' : 'trainable',
        data
      })
      offset += size
    }
  }
  return out
}

/** Backbone weights of an imported TF.js LayersModel (matching layer names) with a new head. */
export async function tfjsStart(modelJson: string, o: StartOptions): Promise<StartingPoint> {
  return transferStart(o, await readTfjsWeights(modelJson), modelJson)
}
