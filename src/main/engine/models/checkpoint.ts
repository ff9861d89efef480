/**
 * Checkpoint format (version 1). Written by the trainer, read by fusion, evaluation and export.
 *
 * A checkpoint is a FOLDER:
 *
 *   model.json     {@link CheckpointMeta}: format tag, architecture + options, input shape,
 *                  classes, task, the weight manifest, the optimizer manifest and the trainer state
 *   weights.bin    every model weight, float32 little-endian, concatenated in manifest order
 *                  (each entry: `offset`, `byteLength` in bytes into this file)
 *   optimizer.bin  optional: AdamW first / second moments per trainable weight, float32 LE,
 *                  located by `optimizer.slots[*].offset / byteLength`
 *
 * Weight names are the tfjs variable names `<layer>/<param>` (e.g. `conv1_conv/kernel`,
 * `conv1_bn/moving_mean`, `head/kernel`); they are stable across builds of an architecture.
 * `kind` says how fusion treats a weight: `trainable` and `bn-stat` (BatchNorm running mean /
 * variance) are averaged; `int` (integer counters, none in the current architectures) are not.
 * Tensor layouts are tfjs's: conv kernels HWIO, depthwise kernels HWC1, dense kernels (in, out).
 * The model outputs logits; the head is the Dense layer `head`.
 *
 * Writes are atomic: files go to `<dir>.tmp-<pid>-<n>`, are fsynced, then the folder is swapped in
 * by rename (the previous version is renamed to `<dir>.old` first and removed last, so a crash at
 * any point leaves either the old or the new checkpoint readable; {@link readCheckpoint} falls
 * back to `<dir>.old` when `<dir>` is missing).
 */
import * as tf from '@tensorflow/tfjs'
import { createHash } from 'node:crypto'
import { promises as fsp, existsSync } from 'node:fs'
import { faultPoint, shortPath, syncDir, writeFailure, writeSynced } from '../io/atomic'
import { dirname, join } from 'node:path'
import { getArch } from './index'
import type { ArchBuildOptions, InputShape } from './types'
import type { TaskKind } from '../data/types'
import type { MetricId } from '../../../shared/vocabulary'

/** Format tag stored in model.json. */
export const CHECKPOINT_FORMAT = 'fissionfusion-checkpoint'

/** How fusion treats a weight: averaged (`trainable`, `bn-stat`) or not (`int`). */
export type WeightKind = 'trainable' | 'bn-stat' | 'int'

/** One weight in the manifest. */
export interface WeightEntry {
  /** Stable name `<layer>/<param>`. */
  name: string
  /** Tensor shape (tfjs layout). */
  shape: number[]
  /** Always float32 in version 1. */
  dtype: 'float32'
  /** Byte offset into weights.bin. */
  offset: number
  /** Byte length in weights.bin (= 4 × product of shape). */
  byteLength: number
  kind: WeightKind
}

/** One AdamW moment tensor in optimizer.bin. */
export interface SlotEntry {
  /** Name of the trainable weight it belongs to. */
  weight: string
  /** First moment `m` or second moment `v`. */
  slot: 'm' | 'v'
  shape: number[]
  /** Byte offset into optimizer.bin. */
  offset: number
  byteLength: number
}

/** AdamW hyperparameters and position, as stored. */
export interface OptimizerMeta {
  kind: 'adamw'
  /** Updates applied so far (bias-correction exponent). */
  step: number
  beta1: number
  beta2: number
  epsilon: number
  /** Decoupled weight decay coefficient (per unit learning rate). */
  weightDecay: number
  slots: SlotEntry[]
}

/** Metrics of one split after one epoch (every metric id). Rates in [0, 1]; kappa in [−1, 1]; NaN when undefined. */
export interface SplitMetrics extends Record<MetricId, number> {
  /** Mean loss per sample (per observed label for multi-label). */
  loss: number
}

/** One epoch of a training, as recorded and streamed. */
export interface EpochRecord {
  /** Epoch number within this training, from 1. */
  epoch: number
  /** Learning rate at the last iteration of the epoch. */
  lr: number
  /** Running metrics of the epoch's training passes (augmented images, BN in training mode). */
  train: SplitMetrics
  /** Metrics on the validation split in inference mode at the end of the epoch. */
  val: SplitMetrics
  /** Wall time of the epoch, seconds. */
  seconds: number
}

/** Where a training stands; enough to resume it epoch by epoch. */
export interface TrainerState {
  /** Epochs completed in this training (0 = none). */
  epoch: number
  /** Iterations (optimizer updates) completed in this training. */
  step: number
  /** The member seed; shuffles and augmentations of epoch e use a seed derived from (seed, e). */
  seed: number
  /** Lowest validation loss so far (null before the first epoch). */
  bestValLoss: number | null
  /** Epoch of that lowest loss (0 if none). */
  bestEpoch: number
  /** Epochs since the best (for early stopping). */
  sinceBest: number
  /** Learning rate at the last iteration done. */
  lr: number
  /** Per-epoch history. */
  history: EpochRecord[]
  /** Total wall time spent training, seconds (across resumes). */
  seconds: number
}

/** Contents of model.json. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT
  version: 1
  /** Architecture registry key. */
  arch: string
  /** Build options besides shape, classes and seed. */
  archOptions: { widthMultiplier?: number; stem?: 'small' | 'imagenet'; vit?: ArchBuildOptions['vit'] }
  inputShape: InputShape
  /** Class (or label) names in output order. */
  classes: string[]
  task: TaskKind
  /** Model outputs: always logits. */
  output: 'logits'
  /** Input normalisation the model was trained with: x/255, then (x − mean)/std per channel. */
  normalization?: { mean: number | number[]; std: number | number[] }
  weights: WeightEntry[]
  optimizer?: OptimizerMeta
  trainer?: TrainerState
  /** Free-form provenance (plan, hyperparameters, lineage); not interpreted by the engine. */
  info?: Record<string, unknown>
  /** Lower-case hex SHA-256 of weights.bin (and optimizer.bin) as written; checked by readCheckpoint. */
  sha256?: { weights: string; optimizer?: string }
}

/** A checkpoint whose files do not match the SHA-256 recorded when they were written (or cannot be parsed). */
export class DamagedCheckpointError extends Error {
  constructor(
    /** The damaged file, named by the last components of its path. */
    readonly file: string,
    reason: string
  ) {
    super(`damaged checkpoint file ${file}: ${reason}`)
  }
}

/** A weight with its data. */
export interface NamedWeight {
  name: string
  shape: number[]
  kind: WeightKind
  data: Float32Array
}

/** AdamW state in memory: moments per trainable weight name. */
export interface OptimizerSnapshot {
  meta: Omit<OptimizerMeta, 'slots'>
  moments: Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>
}

/** A checkpoint in memory. */
export interface Checkpoint {
  meta: Omit<CheckpointMeta, 'weights' | 'optimizer'> & { optimizer?: OptimizerMeta }
  weights: NamedWeight[]
  optimizer?: OptimizerSnapshot
}

/** What a caller supplies to write a checkpoint (manifests are computed). */
export interface CheckpointInput {
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'weights' | 'optimizer'>
  weights: NamedWeight[]
  optimizer?: OptimizerSnapshot
}

function isBnStat(name: string): boolean {
  return /\/moving_(mean|variance)$/.test(name)
}

/** The model's weights by stable name, in layer order (copies; no tensors left behind). */
export function weightsOf(model: tf.LayersModel): NamedWeight[] {
  const out: NamedWeight[] = []
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const name = w.originalName
      const data = w.read().dataSync() as Float32Array
      out.push({
        name,
        shape: w.shape.slice() as number[],
        kind: isBnStat(name) ? 'bn-stat' : w.trainable ? 'trainable' : 'bn-stat',
        data: Float32Array.from(data)
      })
    }
  }
  return out
}

/** Result of {@link setWeights}: names assigned and names of the source that had no match. */
export interface SetWeightsReport {
  assigned: string[]
  /** Source weights with no model weight of that name. */
  unused: string[]
  /** Model weights left untouched (absent from the source or skipped). */
  kept: string[]
}

/**
 * Assigns weights by name. A shape mismatch on a weight that is not skipped is an error naming it.
 * @param skip names to leave untouched (e.g. the head when transferring a backbone)
 */
export function setWeights(
  model: tf.LayersModel,
  weights: NamedWeight[],
  skip: (name: string) => boolean = () => false
): SetWeightsReport {
  const byName = new Map(weights.map((w) => [w.name, w]))
  const report: SetWeightsReport = { assigned: [], unused: [], kept: [] }
  const seen = new Set<string>()
  for (const layer of model.layers) {
    for (const v of layer.weights) {
      const src = byName.get(v.originalName)
      if (!src || skip(v.originalName)) {
        report.kept.push(v.originalName)
        continue
      }
      seen.add(src.name)
      if (src.shape.length !== v.shape.length || src.shape.some((d, i) => d !== v.shape[i])) {
        throw new Error(`weight ${src.name}: shape [${src.shape}] does not fit the model's [${v.shape}]`)
      }
      const t = tf.tensor(src.data, src.shape, 'float32')
      v.write(t)
      t.dispose()
      report.assigned.push(v.originalName)
    }
  }
  report.unused = weights.filter((w) => !seen.has(w.name)).map((w) => w.name)
  return report
}

function bytesOf(a: Float32Array): Uint8Array {
  // Float32Array is host-endian; every supported platform is little-endian, checked once here.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported')
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

let tmpCounter = 0

/**
 * Writes a checkpoint folder atomically (see the file header), with the SHA-256 of its binary
 * files in model.json. A failed write (disk full, I/O error) leaves the previous checkpoint and
 * no temporary folder, and throws a what-to-do sentence (io/atomic.ts). `kind` names it in
 * messages and fault injection (FF_FAULT=enospc@checkpoint:3). Several folders (`dir` a list)
 * get the same bytes, serialised and hashed once, written one after the other in the list's order.
 */
export async function writeCheckpoint(
  dirs: string | string[],
  input: CheckpointInput,
  o: { kind?: 'checkpoint' | 'soup' } = {}
): Promise<void> {
  const weights: WeightEntry[] = []
  let offset = 0
  for (const w of input.weights) {
    weights.push({
      name: w.name,
      shape: w.shape,
      dtype: 'float32',
      offset,
      byteLength: w.data.byteLength,
      kind: w.kind
    })
    offset += w.data.byteLength
  }
  let optimizer: OptimizerMeta | undefined
  const optChunks: Uint8Array[] = []
  if (input.optimizer) {
    const slots: SlotEntry[] = []
    let o = 0
    for (const [weight, mv] of input.optimizer.moments) {
      for (const slot of ['m', 'v'] as const) {
        slots.push({ weight, slot, shape: mv.shape, offset: o, byteLength: mv[slot].byteLength })
        optChunks.push(bytesOf(mv[slot]))
        o += mv[slot].byteLength
      }
    }
    optimizer = { ...input.optimizer.meta, slots }
  }
  const weightChunks = input.weights.map((w) => bytesOf(w.data))
  const sha256 = { weights: sha256Of(weightChunks), ...(optimizer ? { optimizer: sha256Of(optChunks) } : {}) }
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    ...input.meta,
    weights,
    ...(optimizer ? { optimizer } : {}),
    sha256
  }
  const kind = o.kind ?? 'checkpoint'
  const bytes = [...weightChunks, ...optChunks].reduce((a, c) => a + c.byteLength, 0)
  const json = new TextEncoder().encode(JSON.stringify(meta, null, 1))
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs)
    await writeFolder(dir, kind, bytes, weightChunks, optimizer ? optChunks : null, json)
}

async function writeFolder(
  dir: string,
  kind: 'checkpoint' | 'soup',
  bytes: number,
  weightChunks: Uint8Array[],
  optChunks: Uint8Array[] | null,
  json: Uint8Array
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${tmpCounter++}`
  const old = `${dir}.old`
  try {
    faultPoint(kind)
    await fsp.mkdir(dirname(dir), { recursive: true })
    await fsp.rm(tmp, { recursive: true, force: true })
    await fsp.mkdir(tmp)
    await writeSynced(join(tmp, 'weights.bin'), weightChunks)
    if (optChunks) await writeSynced(join(tmp, 'optimizer.bin'), optChunks)
    await writeSynced(join(tmp, 'model.json'), [json])
    await syncDir(tmp)
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    throw writeFailure(e, join(dir, 'weights.bin'), kind, bytes)
  }
  // A leftover .old next to a complete dir is stale; next to no dir it is the only good copy.
  if (existsSync(dir)) {
    await fsp.rm(old, { recursive: true, force: true })
    await fsp.rename(dir, old)
  }
  await fsp.rename(tmp, dir)
  await syncDir(dirname(dir))
  await fsp.rm(old, { recursive: true, force: true })
}

/** Files already verified by this process, by path → `size:mtime:sha` (fusion reads members many times). */
const verified = new Map<string, string>()

async function verifyOnce(file: string, bytes: Uint8Array, expected: string): Promise<void> {
  const st = await fsp.stat(file)
  const key = `${st.size}:${st.mtimeMs}:${expected}`
  if (verified.get(file) === key) return
  if (sha256Of([bytes]) !== expected)
    throw new DamagedCheckpointError(shortPath(file), 'its SHA-256 differs from the one recorded when it was written')
  // like git's racy-clean rule: a file changed within the last 2 s might change again unseen
  if (Date.now() - st.mtimeMs > 2000) verified.set(file, key)
}

function sha256Of(chunks: Uint8Array[]): string {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return h.digest('hex')
}

/** The folder actually holding the checkpoint at `dir` (after an interrupted swap: `<dir>.old`), or null. */
export function checkpointPath(dir: string): string | null {
  if (existsSync(join(dir, 'model.json'))) return dir
  if (existsSync(join(`${dir}.old`, 'model.json'))) return `${dir}.old`
  return null
}

/** True when a readable checkpoint exists at `dir`. */
export function hasCheckpoint(dir: string): boolean {
  return checkpointPath(dir) !== null
}

function sliceF32(buf: Buffer, offset: number, byteLength: number, what: string): Float32Array {
  if (offset < 0 || byteLength < 0 || offset + byteLength > buf.byteLength || byteLength % 4 !== 0) {
    throw new Error(`${what}: bytes ${offset}..${offset + byteLength} lie outside the file (${buf.byteLength} bytes)`)
  }
  const out = new Float32Array(byteLength / 4)
  new Uint8Array(out.buffer).set(buf.subarray(offset, offset + byteLength))
  return out
}

/** Reads model.json only (cheap: no weights). */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  const path = checkpointPath(dir)
  if (!path) throw new Error(`no checkpoint at ${dir} (model.json missing)`)
  let meta: CheckpointMeta
  try {
    meta = JSON.parse(await fsp.readFile(join(path, 'model.json'), 'utf8')) as CheckpointMeta
  } catch (e) {
    if (e instanceof SyntaxError)
      throw new DamagedCheckpointError(shortPath(join(path, 'model.json')), `not valid JSON (${e.message})`)
    throw e
  }
  if (meta.format !== CHECKPOINT_FORMAT || meta.version !== 1) {
    throw new Error(`model.json in ${dir}: not a ${CHECKPOINT_FORMAT} version 1 file`)
  }
  return meta
}

/**
 * Reads a checkpoint folder.
 * @param options.optimizer also read optimizer.bin (default true when present)
 */
export async function readCheckpoint(dir: string, options: { optimizer?: boolean } = {}): Promise<Checkpoint> {
  const path = checkpointPath(dir) as string
  const meta = await readCheckpointMeta(dir)
  const wbuf = await fsp.readFile(join(path, 'weights.bin'))
  if (meta.sha256) await verifyOnce(join(path, 'weights.bin'), wbuf, meta.sha256.weights)
  const weights = meta.weights.map((e) => {
    const data = sliceF32(wbuf, e.offset, e.byteLength, `weights.bin entry ${e.name}`)
    if (data.length !== e.shape.reduce((a, b) => a * b, 1))
      throw new Error(`weights.bin entry ${e.name}: ${data.length} values for shape [${e.shape}]`)
    return { name: e.name, shape: e.shape, kind: e.kind, data }
  })
  const { weights: _w, ...rest } = meta
  const ckpt: Checkpoint = { meta: rest, weights }
  if (meta.optimizer && options.optimizer !== false) {
    const obuf = await fsp.readFile(join(path, 'optimizer.bin'))
    if (meta.sha256?.optimizer) await verifyOnce(join(path, 'optimizer.bin'), obuf, meta.sha256.optimizer)
    const moments = new Map<string, { m: Float32Array; v: Float32Array; shape: number[] }>()
    for (const s of meta.optimizer.slots) {
      const entry = moments.get(s.weight) ?? { m: new Float32Array(0), v: new Float32Array(0), shape: s.shape }
      entry[s.slot] = sliceF32(obuf, s.offset, s.byteLength, `optimizer.bin entry ${s.weight}/${s.slot}`)
      moments.set(s.weight, entry)
    }
    const { slots: _s, ...optMeta } = meta.optimizer
    ckpt.optimizer = { meta: optMeta, moments }
  }
  return ckpt
}

/** Builds the checkpoint's architecture and loads its weights. The caller disposes the model. */
export async function loadModel(source: string | Checkpoint): Promise<tf.LayersModel> {
  const ckpt = typeof source === 'string' ? await readCheckpoint(source, { optimizer: false }) : source
  const { meta } = ckpt
  const model = getArch(meta.arch).build({
    ...meta.archOptions,
    inputShape: meta.inputShape,
    numClasses: meta.classes.length,
    seed: 0
  })
  const report = setWeights(model, ckpt.weights)
  if (report.kept.length > 0 || report.unused.length > 0) {
    model.dispose()
    throw new Error(
      `checkpoint does not match architecture ${meta.arch}: missing ${report.kept.slice(0, 3).join(', ')}; extra ${report.unused.slice(0, 3).join(', ')}`
    )
  }
  return model
}
