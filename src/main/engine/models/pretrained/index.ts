/**
 * Import of pretrained weights (ONNX or safetensors, as PyTorch / timm write them) onto the
 * engine's architectures. Each architecture family is one mapping function
 * (PyTorch-named float32 tensors → engine weights, {@link FromTorch}); the registry tries them
 * in order. The result keeps the classification head, so the imported model gives the original
 * network's outputs, and records the preprocessing the weights expect.
 */
import { createHash } from 'node:crypto'
import { promises as fsp } from 'node:fs'
import { basename, extname } from 'node:path'
import type * as tf from '@tensorflow/tfjs'
import { setWeights, type CheckpointInput, type NamedWeight } from '../checkpoint'
import { getArch } from '../index'
import type { ArchBuildOptions } from '../types'
import { densenetFromTorch, densenetModules } from './densenet'
import { mobilenetv2FromTorch, mobilenetv2Modules } from './mobilenetv2'
import { looksLikeOnnx, readOnnx, tensorsFromGraph, type ModuleSpec, type OnnxWeights } from './onnx'
import { resnetFromTorch, resnetModules } from './resnet'
import { looksLikeSafetensors, readSafetensors } from './safetensors'
import type { FromTorch, FromTorchResult, MappingReport, TorchTensor, TorchTensors } from './tensors'
import { decodeModel } from '../../export/onnx/model'
import { fitVitWeights, torchTensorsFromOnnx, vitFromTorch } from '../vit-weights'
import { VIT_ARCHITECTURE_IDS } from '../../../../shared/vocabulary'
import type { Preprocessing, WeightsOrigin } from '../../../../shared/job-results'

export type { FromTorch, FromTorchResult, MappingReport, TorchTensor, TorchTensors } from './tensors'

/** One family of architectures the import recognises. */
export interface PretrainedFamily {
  /** Engine architectures it produces. */
  archs: readonly string[]
  fromTorch: FromTorch
  /** Parameter modules in forward order per variant, for ONNX graphs whose names were folded away. */
  modules?: () => ModuleSpec[][]
  /** PyTorch-named tensors of an ONNX file, where this family recovers them itself. */
  fromOnnx?: (bytes: Uint8Array) => TorchTensors
}

/** Families tried in order. */
export const PRETRAINED_FAMILIES: PretrainedFamily[] = [
  { archs: ['resnet18', 'resnet50'], fromTorch: resnetFromTorch, modules: resnetModules },
  { archs: ['densenet121'], fromTorch: densenetFromTorch, modules: densenetModules },
  { archs: ['mobilenetv2'], fromTorch: mobilenetv2FromTorch, modules: mobilenetv2Modules },
  // torchvision VisionTransformer and timm deit/vit names; ONNX names recovered from the graph (MatMul weights folded and transposed by the export).
  {
    archs: VIT_ARCHITECTURE_IDS,
    fromTorch: (t, o) => vitFromTorch(t, o),
    fromOnnx: (bytes) => torchTensorsFromOnnx(decodeModel(bytes))
  }
]

/** ImageNet's preprocessing, the torchvision and timm convention. */
export const IMAGENET_PREPROCESSING: Preprocessing = {
  size: [224, 224],
  channels: 3,
  channelOrder: 'RGB',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225]
}

/** Options of {@link readPretrained}. */
export interface PretrainedOptions {
  /** Architecture to use where the tensors fit several (and a check otherwise). */
  arch?: string
  /** Input side in pixels (default 224). */
  size?: number
  mean?: number[]
  std?: number[]
  /** A ViT's attention heads where its width is not a multiple of 64 (the weights do not store it). */
  heads?: number
}

/** A file's weights mapped onto an engine architecture. */
export interface PretrainedImport {
  arch: string
  build: ArchBuildOptions
  /** Every weight of the architecture, in layer order. */
  weights: NamedWeight[]
  report: MappingReport
  preprocessing: Preprocessing
  /** The file's name (no folder), format and SHA-256. */
  origin: WeightsOrigin
}

function perChannel(v: number[] | undefined, fallback: number[], what: string): number[] {
  if (!v) return fallback
  if (v.length === 1) return [v[0], v[0], v[0]]
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x)))
    throw new Error(`--${what}: give 1 or 3 numbers (R,G,B), got ${v.join(',')}`)
  if (what === 'std' && v.some((x) => !(x > 0))) throw new Error('--std: every value must be > 0')
  return v
}

function fromTensors(
  tensors: ReadonlyMap<string, TorchTensor>,
  o: PretrainedOptions,
  onnx?: Uint8Array
): FromTorchResult | null {
  for (const f of PRETRAINED_FAMILIES) {
    if (o.arch && !f.archs.includes(o.arch)) continue
    const r = f.fromTorch(onnx && f.fromOnnx ? f.fromOnnx(onnx) : tensors, { heads: o.heads })
    if (r) return r
  }
  return null
}

function fromGraph(g: OnnxWeights, arch: string | undefined): FromTorchResult | null {
  for (const f of PRETRAINED_FAMILIES) {
    if (!f.modules || (arch && !f.archs.includes(arch))) continue
    for (const modules of f.modules()) {
      const folded = new Set<string>()
      const tensors = tensorsFromGraph(g, modules, folded)
      if (!tensors) continue
      const r = f.fromTorch(tensors)
      if (!r) continue
      const note =
        'BatchNorm folded into the conv by the ONNX export: restored as the folded conv + identity BatchNorm (γ 1, β = conv bias, μ 0, σ² 1−ε)'
      const isFolded = (entry: string) => folded.has(entry.split(' → ')[0])
      r.report.reshaped.push(...r.report.matched.filter(isFolded).map((e) => `${e} (${note})`))
      r.report.matched = r.report.matched.filter((e) => !isFolded(e))
      return r
    }
  }
  return null
}

/**
 * Reads a pretrained-weights file and maps it onto an engine architecture. Throws a sentence
 * naming the file (never its folder) when it is not a model file, is truncated, is not a known
 * architecture, or does not fit it (naming the first tensor that does not).
 */
export async function readPretrained(path: string, o: PretrainedOptions = {}): Promise<PretrainedImport> {
  const file = basename(path)
  const buf = await fsp.readFile(path)
  if (o.arch) getArch(o.arch)
  const ext = extname(file).toLowerCase()
  const format: 'onnx' | 'safetensors' | null =
    ext === '.onnx'
      ? 'onnx'
      : ext === '.safetensors'
        ? 'safetensors'
        : looksLikeSafetensors(buf)
          ? 'safetensors'
          : looksLikeOnnx(buf)
            ? 'onnx'
            : null
  if (!format) throw new Error(`${file}: neither an ONNX nor a safetensors file`)
  let result: FromTorchResult | null
  let names: string[]
  if (format === 'safetensors') {
    if (!looksLikeSafetensors(buf) && buf.byteLength >= 9 && buf[8] !== 0x7b)
      throw new Error(`${file}: not a safetensors file (no JSON header)`)
    const st = readSafetensors(buf, file)
    names = [...st.tensors.keys()]
    result = wrap(file, () => fromTensors(st.tensors, o))
    if (result) result.report.skipped.push(...st.other.map((t) => `${t.name} (${t.dtype})`))
  } else {
    const g = readOnnx(buf, file)
    names = [...g.initializers.keys()]
    result = wrap(file, () => fromTensors(g.initializers, o, buf) ?? fromGraph(g, o.arch))
  }
  if (!result) {
    throw new Error(
      `${file}: no known architecture in its ${names.length} tensors (e.g. ${names.slice(0, 3).join(', ') || 'none'}${o.arch ? `; --arch ${o.arch}` : ''}); known: ${PRETRAINED_FAMILIES.flatMap((f) => f.archs).join(', ')}`
    )
  }
  if (o.arch && result.arch !== o.arch)
    throw new Error(`${file}: the tensors are a ${result.arch}, not --arch ${o.arch}`)
  const side = o.size ?? IMAGENET_PREPROCESSING.size[0]
  const preprocessing: Preprocessing = {
    ...IMAGENET_PREPROCESSING,
    size: [side, side],
    mean: perChannel(o.mean, IMAGENET_PREPROCESSING.mean, 'mean'),
    std: perChannel(o.std, IMAGENET_PREPROCESSING.std, 'std')
  }
  const build: ArchBuildOptions = { seed: 0, numClasses: 1, ...result.build, inputShape: [side, side, 3] }
  const arch = getArch(result.arch)
  if (side < arch.minSize) throw new Error(`--size ${side}: ${result.arch} needs at least ${arch.minSize} px`)
  // A ViT used at another size than it was trained at: its position embeddings are resized to the new patch grid.
  const fitted = { ...result, weights: fitToSize(result, build) }
  const weights = checkShapes(file, fitted, build)
  return {
    arch: result.arch,
    build,
    weights,
    report: result.report,
    preprocessing,
    origin: { file, format, sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.byteLength }
  }
}

function fitToSize(r: FromTorchResult, build: ArchBuildOptions): NamedWeight[] {
  if (!r.weights.some((w) => w.name.endsWith('/pos_embedding'))) return r.weights
  const model = getArch(r.arch).build(build)
  try {
    return fitVitWeights(model, r.weights)
  } finally {
    model.dispose()
  }
}

function wrap<T>(file: string, f: () => T): T {
  try {
    return f()
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`)
  }
}

/** The mapped weights in the architecture's order; the first missing or misshapen one is an error naming its PyTorch tensor. */
function checkShapes(file: string, r: FromTorchResult, build: ArchBuildOptions): NamedWeight[] {
  const model = getArch(r.arch).build(build)
  try {
    const byName = new Map(r.weights.map((w) => [w.name, w]))
    const sourceOf = (name: string) =>
      r.report.matched
        .concat(r.report.reshaped)
        .find((e) => e.split(' → ')[1]?.split(' ')[0] === name)
        ?.split(' → ')[0] ?? name
    const out: NamedWeight[] = []
    for (const layer of model.layers) {
      for (const v of layer.weights) {
        const w = byName.get(v.originalName)
        if (!w) throw new Error(`${file}: ${r.arch} weight ${v.originalName} has no tensor in the file`)
        if (w.shape.length !== v.shape.length || w.shape.some((d, i) => d !== v.shape[i])) {
          throw new Error(
            `${file}: tensor ${sourceOf(w.name)} does not match ${r.arch}: shape [${w.shape}] in the engine's layout where [${v.shape}] is expected`
          )
        }
        out.push(w)
        byName.delete(v.originalName)
      }
    }
    const extra = [...byName.keys()]
    if (extra.length > 0) throw new Error(`${file}: tensor ${sourceOf(extra[0])} has no place in ${r.arch}`)
    return out
  } finally {
    model.dispose()
  }
}

/** The imported network as a model (head kept). The caller disposes it. */
export function modelOf(imp: PretrainedImport): tf.LayersModel {
  const model = getArch(imp.arch).build(imp.build)
  try {
    setWeights(model, imp.weights)
    return model
  } catch (e) {
    model.dispose()
    throw e
  }
}

/** Provenance stored in the checkpoint's `info.pretrained` (file name and hash, never a path). */
export interface PretrainedInfo {
  name: string
  origin: PretrainedImport['origin']
  preprocessing: Preprocessing
  tensors: { matched: number; reshaped: number; skipped: number }
  importedAt: string
}

/** The checkpoint of an imported network: classes `0 … K−1`, single-label, its preprocessing. */
export function checkpointOf(imp: PretrainedImport, name: string, now = new Date()): CheckpointInput {
  const { inputShape, numClasses, seed: _s, ...archOptions } = imp.build
  const info: PretrainedInfo = {
    name,
    origin: imp.origin,
    preprocessing: imp.preprocessing,
    importedAt: now.toISOString(),
    tensors: {
      matched: imp.report.matched.length,
      reshaped: imp.report.reshaped.length,
      skipped: imp.report.skipped.length
    }
  }
  return {
    meta: {
      arch: imp.arch,
      archOptions: archOptions as CheckpointInput['meta']['archOptions'],
      inputShape,
      classes: Array.from({ length: numClasses }, (_, i) => String(i)),
      task: 'single',
      output: 'logits',
      normalization: { mean: imp.preprocessing.mean, std: imp.preprocessing.std },
      info: { pretrained: info }
    },
    weights: imp.weights
  }
}
