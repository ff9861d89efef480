/**
 * Fission plans (pure): what to train, as a list of units of work. A unit is one training
 * (trainer.ts) that starts from a checkpoint folder in the run folder and produces members;
 * units are independent except for `dependsOn`, so a pool of engine processes can run them.
 *
 * Run folder layout (all unit paths are relative to it):
 *   start/                      the common starting point θ₀ (backbone + a new head seeded by `headSeed`)
 *   lp/                         linear probe from start/ (when lpEpochs > 0); θ_lp = lp/best
 *   grid/<member>/              a grid member's training; the member is best/ (lowest val loss)
 *   fgg/base-<lr>/              an FGG base (member at lineage epoch 0 = best/)
 *   fgg/cyclic-<lr>/            its cyclic phase from base best/ with the AdamW state; members epoch-<e>/
 *   pretrain/                   the pretraining; the member is best/
 */
import type { AugmentPreset } from '../data/augment'
import type { AdamWConfig } from './adamw'
import { fggSnapshotEpochs, type ScheduleSpec } from './schedules'
import type { PlanSettings } from '../../../shared/plan'

export { PLAN_DEFAULTS, PRETRAIN_DEFAULTS, type PlanKind, type PlanSettings } from '../../../shared/plan'

/** A member a unit produces. */
export interface MemberSpec {
  /** Unique in the run. */
  id: string
  /** Group label (the learning rate by default: FGG lineage and grid rate groups coincide). */
  group: string
  lr: number
  seed: number
  aug: AugmentPreset
  /** Position in its lineage: 0 for a grid member or an FGG base, else the cyclic epoch (1, 5, 9, ...). */
  epoch: number
  /** Checkpoint folder, relative to the run folder. */
  checkpoint: string
  /** Which epoch of the unit's history holds its validation metrics: 'best' or a 1-based epoch. */
  historyEpoch: 'best' | number
  /** Epochs before this unit in the lineage (FGG cyclic members: the base's epochs); added to the unit's own. */
  epochsBefore: 'base' | 0
}

/** One training of a plan. */
export interface UnitSpec {
  id: string
  /** Units that must have finished first. */
  dependsOn: string[]
  /** Checkpoint folder to start from, relative to the run folder. */
  from: string
  /** Also restore the AdamW state stored with `from` (FGG cyclic phase). */
  carryOptimizer: boolean
  /** Training folder, relative to the run folder. */
  dir: string
  epochs: number
  batchSize: number
  schedule: ScheduleSpec
  optimizer: AdamWConfig
  seed: number
  augment: AugmentPreset
  trainable: 'all' | 'head'
  patience?: number
  keepBest: boolean
  snapshotEpochs: number[]
  members: MemberSpec[]
}

/** A planned run. */
export interface Plan {
  settings: PlanSettings
  /** Checkpoint folder every member starts from (start/ or lp/best), relative to the run folder. */
  memberStart: string
  units: UnitSpec[]
}

/** A learning rate as a short label: 0.001 → "1e-3", 0.0005 → "5e-4". */
export function lrLabel(lr: number): string {
  const [m, e] = lr.toExponential().split('e')
  return `${m}e${Number(e)}`
}

/** Checks settings; throws naming the field. */
export function checkSettings(s: PlanSettings): void {
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a whole number ≥ 1, got ${v}`)
  }
  positiveInt(s.epochs, 'epochs')
  positiveInt(s.batchSize, 'batchSize')
  if (s.lrs.length === 0 || s.lrs.some((v) => !(v > 0)))
    throw new Error(`lrs: expected positive learning rates, got ${s.lrs.join(',')}`)
  if (s.kind === 'grid' && (s.seeds.length === 0 || s.augs.length === 0))
    throw new Error('seeds / augs: a grid needs at least one of each')
  if (s.kind === 'fgg') {
    positiveInt(s.fggEpochs, 'fggEpochs')
    if (!Number.isInteger(s.cycle) || s.cycle < 2 || s.cycle % 2 !== 0)
      throw new Error(`cycle: expected an even number ≥ 2, got ${s.cycle}`)
    if (fggSnapshotEpochs(s.fggEpochs, s.cycle).length === 0)
      throw new Error(
        `fggEpochs: ${s.fggEpochs} epochs with cycle ${s.cycle} save no member (need ≥ ${s.cycle / 2 - 1})`
      )
  }
  if (s.lpEpochs < 0 || !Number.isInteger(s.lpEpochs))
    throw new Error(`lpEpochs: expected a whole number ≥ 0, got ${s.lpEpochs}`)
}

/** Builds the units of a plan. */
export function buildPlan(s: PlanSettings): Plan {
  checkSettings(s)
  const units: UnitSpec[] = []
  let memberStart = 'start'
  const common = {
    batchSize: s.batchSize,
    trainable: 'all' as const,
    keepBest: true,
    snapshotEpochs: [] as number[],
    carryOptimizer: false
  }
  if (s.lpEpochs > 0 && s.kind !== 'pretrain') {
    units.push({
      ...common,
      id: 'lp',
      dependsOn: [],
      from: 'start',
      dir: 'lp',
      epochs: s.lpEpochs,
      schedule: { kind: 'constant', lr: s.lpLr },
      optimizer: { weightDecay: 0 },
      seed: s.headSeed,
      augment: 'none',
      trainable: 'head',
      patience: s.lpPatience,
      members: []
    })
    memberStart = 'lp/best'
  }
  const deps = s.lpEpochs > 0 && s.kind !== 'pretrain' ? ['lp'] : []
  const cosine = (lr: number): ScheduleSpec => ({ kind: 'cosine', lr, tMax: s.epochs })
  if (s.kind === 'pretrain') {
    const lr = s.lrs[0]
    units.push({
      ...common,
      id: 'pretrain',
      dependsOn: [],
      from: memberStart,
      dir: 'pretrain',
      epochs: s.epochs,
      schedule: { kind: 'constant', lr },
      optimizer: { weightDecay: s.weightDecay },
      seed: s.seeds[0] ?? 0,
      augment: s.augs[0] ?? 'none',
      members: [
        {
          id: 'pretrain',
          group: lrLabel(lr),
          lr,
          seed: s.seeds[0] ?? 0,
          aug: s.augs[0] ?? 'none',
          epoch: 0,
          checkpoint: 'pretrain/best',
          historyEpoch: 'best',
          epochsBefore: 0
        }
      ]
    })
  }
  if (s.kind === 'grid') {
    for (const lr of s.lrs)
      for (const seed of s.seeds)
        for (const aug of s.augs) {
          const id = `grid-lr${lrLabel(lr)}-s${seed}-${aug}`
          units.push({
            ...common,
            id,
            dependsOn: deps,
            from: memberStart,
            dir: `grid/${id}`,
            epochs: s.epochs,
            schedule: cosine(lr),
            optimizer: { weightDecay: s.weightDecay },
            seed,
            augment: aug,
            members: [
              {
                id,
                group: lrLabel(lr),
                lr,
                seed,
                aug,
                epoch: 0,
                checkpoint: `grid/${id}/best`,
                historyEpoch: 'best',
                epochsBefore: 0
              }
            ]
          })
        }
  }
  if (s.kind === 'fgg') {
    for (const lr of s.lrs) {
      const label = lrLabel(lr)
      const member = (epoch: number, checkpoint: string, historyEpoch: 'best' | number): MemberSpec => ({
        id: `fgg-lr${label}-e${epoch}`,
        group: label,
        lr,
        seed: s.fggSeed,
        aug: s.fggAug,
        epoch,
        checkpoint,
        historyEpoch,
        epochsBefore: epoch === 0 ? 0 : 'base'
      })
      const base = `fgg/base-${label}`
      units.push({
        ...common,
        id: `fgg-base-lr${label}`,
        dependsOn: deps,
        from: memberStart,
        dir: base,
        epochs: s.epochs,
        schedule: cosine(lr),
        optimizer: { weightDecay: s.weightDecay },
        seed: s.fggSeed,
        augment: s.fggAug,
        members: [member(0, `${base}/best`, 'best')]
      })
      const snaps = fggSnapshotEpochs(s.fggEpochs, s.cycle)
      const cyc = `fgg/cyclic-${label}`
      units.push({
        ...common,
        id: `fgg-cyclic-lr${label}`,
        dependsOn: [`fgg-base-lr${label}`],
        from: `${base}/best`,
        carryOptimizer: true,
        dir: cyc,
        epochs: s.fggEpochs,
        schedule: { kind: 'cyclic', a1: s.a1, a2: s.a2, cycle: s.cycle },
        optimizer: { weightDecay: s.weightDecay },
        seed: s.fggSeed,
        augment: s.fggAug,
        keepBest: false,
        snapshotEpochs: snaps,
        members: snaps.map((e) => member(e, `${cyc}/epoch-${e}`, e))
      })
    }
  }
  return { settings: s, memberStart, units }
}
