/**
 * Runs a plan (plans.ts): materialises the starting point, runs units in dependency order with
 * a bounded number at once, and summarises members. Units run in this process by default, or in
 * a pool of engine processes (pool.ts) through the injectable {@link UnitRunner}. Everything is
 * resumable: a unit that finished is not run again, a unit that was interrupted resumes from its
 * last epoch.
 */
import { dirname, join } from 'node:path'
import { DatasetReader, DEFAULT_NORMALISATION, type Normalisation } from '../data/reader'
import type { DatasetMeta } from '../data/types'
import {
  type CheckpointInput,
  hasCheckpoint,
  loadModel,
  readCheckpoint,
  readCheckpointMeta,
  setWeights,
  weightsOf,
  writeCheckpoint,
  type EpochRecord,
  type SplitMetrics
} from '../models/checkpoint'
import { checkpointStart, randomStart, tfjsStart, type StartingPoint } from '../models/start'
import { archOptionsOf, type ArchOptions } from '../models/types'
import { getArch } from '../models/index'
import { type Footprint, MiB, peakRss, planMemory } from '../models/memory'
import type { MemberSpec, Plan, UnitSpec } from './plans'
import { readerSource } from './source'
import { evaluateSource, readTrainResult, train, type TrainResult } from './trainer'

/** Where the members start from. */
export type StartSource =
  | { kind: 'random'; seed?: number }
  /** A checkpoint folder (a workspace model); its backbone is kept, the head is new. */
  | { kind: 'checkpoint'; dir: string }
  /** A TF.js LayersModel model.json whose layer names match the architecture. */
  | { kind: 'tfjs'; path: string }

/** Everything a unit needs; plain JSON so a child process can receive it. */
export interface RunSetup {
  /** Run folder (absolute). */
  runDir: string
  /** Dataset cache folder (absolute). */
  dataset: string
  arch: string
  /** The architecture's options (width, stem, a free-form ViT's dimensions); a checkpoint start supplies those not set here. */
  archOptions?: ArchOptions
  /** Model input channels; gray datasets are repeated (default 3, so backbones transfer between gray and RGB). */
  channels?: 1 | 3
  start: StartSource
  plan: Plan
  /** Provenance written into every checkpoint (run id, dataset id, ...). */
  info?: Record<string, unknown>
  /** The memory budget of each engine process: units train in micro-batches planned from the footprint (models/memory.ts). */
  memory?: { limitBytes: number; footprint: Footprint }
}

/** A member's outcome, as recorded and printed. */
export interface MemberResult extends Omit<MemberSpec, 'historyEpoch' | 'epochsBefore'> {
  /** Unit that produced it. */
  unit: string
  /** Epochs trained in its lineage after the common start (FGG cyclic members: base epochs + e). */
  epochsTrained: number
  /** Training wall time of its lineage, seconds. */
  seconds: number
  /** Validation metrics at its checkpoint. */
  val: SplitMetrics
}

/** Outcome of one unit. */
export interface UnitOutcome {
  unit: string
  result: TrainResult
  /** Members whose checkpoints exist. */
  members: MemberResult[]
  /** Peak resident memory of the process that ran the unit, MiB (process.resourceUsage().maxRSS). */
  peakRssMiB?: number
  /** Images per forward/backward pass and passes per batch, as planned for the memory budget. */
  microBatch?: number
  microBatches?: number
}

/** Hooks of a running unit. */
export interface UnitHooks {
  signal?: AbortSignal
  onEpoch?: (unit: string, record: EpochRecord) => void
  onStep?: (unit: string, p: { epoch: number; iteration: number; iterations: number; loss: number; lr: number }) => void
}

/** Runs one unit somewhere (this process, a child process) and returns its outcome. */
export type UnitRunner = (setup: RunSetup, unitId: string, hooks: UnitHooks) => Promise<UnitOutcome>

async function datasetMeta(dir: string): Promise<DatasetMeta> {
  const reader = await DatasetReader.open(dir)
  await reader.close()
  return reader.meta
}

/** @param normalization the starting point's (an imported network's ImageNet statistics), else METHOD.md's default */
function checkpointMeta(
  setup: RunSetup,
  meta: DatasetMeta,
  normalization: Normalisation = DEFAULT_NORMALISATION,
  archOptions: ArchOptions = setup.archOptions ?? {}
): Omit<CheckpointInput['meta'], 'trainer'> {
  return {
    arch: setup.arch,
    archOptions,
    inputShape: [meta.size[0], meta.size[1], setup.channels ?? 3],
    classes: meta.classes,
    task: meta.task,
    output: 'logits',
    normalization,
    info: setup.info
  }
}

/** What {@link prepareStart} did. */
export interface StartReport {
  /** Weight names taken from the source. */
  transferred: number
  /** Weight names initialised (the head at least). */
  initialised: number
}

/** Writes start/ (θ₀: the starting point's backbone + a head seeded by the plan) unless it exists. */
export async function prepareStart(setup: RunSetup): Promise<StartReport | null> {
  const dir = join(setup.runDir, 'start')
  if (hasCheckpoint(dir)) return null
  const meta = await datasetMeta(setup.dataset)
  let cmeta = checkpointMeta(setup, meta)
  const o = {
    ...setup.archOptions,
    arch: setup.arch,
    inputShape: cmeta.inputShape,
    numClasses: meta.classes.length,
    seed: setup.plan.settings.headSeed
  }
  getArch(setup.arch)
  let start: StartingPoint
  if (setup.start.kind === 'random') start = randomStart({ ...o, seed: setup.start.seed ?? o.seed })
  else if (setup.start.kind === 'checkpoint') {
    const from = await checkpointStart(setup.start.dir, o)
    // The starting point's preprocessing (e.g. an imported network's ImageNet mean / std) and the
    // options the model was built with (e.g. a free-form ViT's dimensions) carry over to every member.
    cmeta = checkpointMeta(
      setup,
      meta,
      from.source.meta.normalization ?? DEFAULT_NORMALISATION,
      archOptionsOf(from.options)
    )
    start = from
  } else start = await tfjsStart(setup.start.path, o)
  try {
    await writeCheckpoint(dir, { meta: cmeta, weights: weightsOf(start.model) })
  } finally {
    start.model.dispose()
  }
  return { transferred: start.transferred.length, initialised: start.initialised.length }
}

function findUnit(setup: RunSetup, id: string): UnitSpec {
  const unit = setup.plan.units.find((u) => u.id === id)
  if (!unit) throw new Error(`unit ${id} is not in the plan`)
  return unit
}

/** Member results of a unit from its (possibly partial) training result. */
export async function membersOf(setup: RunSetup, unit: UnitSpec, result: TrainResult): Promise<MemberResult[]> {
  const before = unit.members.some((m) => m.epochsBefore === 'base')
    ? await readTrainResult(join(setup.runDir, dirname(unit.from)))
    : null
  const out: MemberResult[] = []
  for (const m of unit.members) {
    if (!hasCheckpoint(join(setup.runDir, m.checkpoint))) continue
    const epoch = m.historyEpoch === 'best' ? result.bestEpoch : m.historyEpoch
    const rec = result.history[epoch - 1]
    if (!rec) continue
    const { historyEpoch: _h, epochsBefore, ...spec } = m
    const base = epochsBefore === 'base' && before ? before : null
    out.push({
      ...spec,
      unit: unit.id,
      epochsTrained: (base?.epochsTrained ?? 0) + (m.historyEpoch === 'best' ? result.epochsTrained : epoch),
      seconds:
        (base?.seconds ?? 0) +
        result.history
          .slice(0, m.historyEpoch === 'best' ? result.epochsTrained : epoch)
          .reduce((a, r) => a + r.seconds, 0),
      val: rec.val
    })
  }
  return out
}

/** Runs one unit in this process (resuming it if it was interrupted). The active tfjs backend is used. */
export const runUnitHere: UnitRunner = async (setup, unitId, hooks) => {
  const unit = findUnit(setup, unitId)
  const mem = setup.memory ? planMemory(setup.memory.footprint, unit.batchSize, setup.memory.limitBytes) : null
  if (mem && !mem.fits) throw new Error(mem.message)
  const reader = await DatasetReader.open(setup.dataset)
  const from = await readCheckpoint(join(setup.runDir, unit.from), { optimizer: unit.carryOptimizer })
  const model = getArch(from.meta.arch).build({
    ...from.meta.archOptions,
    inputShape: from.meta.inputShape,
    numClasses: from.meta.classes.length,
    seed: 0
  })
  try {
    setWeights(model, from.weights)
    const normalisation = from.meta.normalization ?? DEFAULT_NORMALISATION
    const prep = { channels: setup.channels ?? 3, normalisation }
    const result = await train({
      model,
      meta: checkpointMeta(setup, reader.meta, normalisation, from.meta.archOptions),
      train: readerSource(reader, 'train', { ...prep, augment: unit.augment }),
      val: readerSource(reader, 'val', prep),
      epochs: unit.epochs,
      batchSize: unit.batchSize,
      ...(mem ? { microBatch: mem.microBatch, evalBatchSize: mem.evalBatch } : {}),
      schedule: unit.schedule,
      optimizer: unit.optimizer,
      optimizerState: unit.carryOptimizer ? from.optimizer : undefined,
      seed: unit.seed,
      trainable: unit.trainable,
      patience: unit.patience,
      keepBest: unit.keepBest,
      snapshotEpochs: unit.snapshotEpochs,
      classWeights: setup.plan.settings.classWeights,
      dir: join(setup.runDir, unit.dir),
      signal: hooks.signal,
      onEpoch: (r) => hooks.onEpoch?.(unit.id, r),
      onStep: (p) => hooks.onStep?.(unit.id, p)
    })
    return {
      unit: unit.id,
      result,
      members: await membersOf(setup, unit, result),
      peakRssMiB: Math.round(peakRss() / MiB),
      ...(mem ? { microBatch: mem.microBatch, microBatches: mem.microBatches } : {})
    }
  } finally {
    model.dispose()
    await reader.close()
  }
}

/** Options of {@link runPlan}. */
export interface RunPlanOptions extends UnitHooks {
  /** Units at once (default 1). */
  concurrency?: number
  /** Where units run (default: this process). */
  runUnit?: UnitRunner
  onUnitStart?: (unit: string) => void
  onUnitEnd?: (outcome: UnitOutcome) => void
}

/** Outcome of a plan. */
export interface PlanOutcome {
  status: 'done' | 'cancelled' | 'partial'
  units: UnitOutcome[]
  /** Units not run, with why (a dependency failed, or cancelled). */
  skipped: { unit: string; reason: string }[]
  members: MemberResult[]
}

/** Runs (or resumes) every unit of the plan. */
export async function runPlan(setup: RunSetup, o: RunPlanOptions = {}): Promise<PlanOutcome> {
  await prepareStart(setup)
  const runUnit = o.runUnit ?? runUnitHere
  const limit = Math.max(1, o.concurrency ?? 1)
  const pending = [...setup.plan.units]
  const done = new Map<string, UnitOutcome>()
  const skipped: PlanOutcome['skipped'] = []
  const failed = new Set<string>()
  const running = new Map<string, Promise<void>>()
  const ok = (u: UnitOutcome) => u.result.status === 'done' || u.result.status === 'early-stopped'
  // A unit whose runner failed (e.g. its worker was killed) does not stop the others: they are independent.
  const errors: string[] = []
  while (pending.length > 0 || running.size > 0) {
    for (let k = 0; k < pending.length && running.size < limit && !o.signal?.aborted;) {
      const unit = pending[k]
      const badDep = unit.dependsOn.find((d) => failed.has(d))
      if (badDep) {
        pending.splice(k, 1)
        failed.add(unit.id)
        skipped.push({ unit: unit.id, reason: `needs ${badDep}, which did not finish` })
        continue
      }
      if (!unit.dependsOn.every((d) => done.has(d))) {
        k++
        continue
      }
      pending.splice(k, 1)
      o.onUnitStart?.(unit.id)
      running.set(
        unit.id,
        runUnit(setup, unit.id, o)
          .then(
            (out) => {
              done.set(unit.id, out)
              if (!ok(out)) failed.add(unit.id)
              o.onUnitEnd?.(out)
            },
            (e: unknown) => {
              failed.add(unit.id)
              errors.push(e instanceof Error ? e.message : String(e))
            }
          )
          .finally(() => running.delete(unit.id))
      )
    }
    if (running.size === 0) break
    await Promise.race(running.values())
  }
  if (errors.length > 0) throw new Error(errors.join('; '))
  for (const u of pending) skipped.push({ unit: u.id, reason: o.signal?.aborted ? 'cancelled' : 'not run' })
  const units = setup.plan.units.map((u) => done.get(u.id)).filter((u): u is UnitOutcome => u !== undefined)
  const cancelled = o.signal?.aborted || units.some((u) => u.result.status === 'cancelled')
  return {
    status: cancelled ? 'cancelled' : skipped.length > 0 || units.some((u) => !ok(u)) ? 'partial' : 'done',
    units,
    skipped,
    members: units.flatMap((u) => u.members)
  }
}

/** Metrics of a checkpoint on one split of a dataset (inference mode). */
export async function evaluateCheckpoint(
  checkpoint: string,
  dataset: string,
  split: 'train' | 'val' | 'test',
  o: { batchSize?: number; channels?: 1 | 3 } = {}
): Promise<SplitMetrics> {
  const reader = await DatasetReader.open(dataset)
  const model = await loadModel(checkpoint)
  try {
    const src = readerSource(reader, split, {
      channels: o.channels ?? 3,
      normalisation: (await readCheckpointMeta(checkpoint)).normalization
    })
    const { metrics } = await evaluateSource(model, src, reader.meta.task, reader.meta.classes.length, {
      batchSize: o.batchSize ?? 256
    })
    return metrics
  } finally {
    model.dispose()
    await reader.close()
  }
}
