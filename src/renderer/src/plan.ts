/**
 * The Fission plan form's settings, their defaults (the reference implementation's, see
 * ../shared/design/METHOD.md) and the pure arithmetic of what a plan costs. The defaults and the
 * schedule arithmetic are the engine's own (src/shared/plan.ts); this file adds the form's helpers.
 */
import {
  cosineLr,
  cyclicLr,
  fggSnapshotEpochs,
  PLAN_DEFAULTS as SHARED_PLAN_DEFAULTS,
  type PlanSettings as SharedPlanSettings
} from '../../shared/plan'
import type { GridAugmentPreset } from '../../shared/vocabulary'

/** Augmentation presets a grid tries. */
export type AugPreset = GridAugmentPreset

/** Every setting of the form (a grid or an FGG plan; the shared plan settings). */
export type PlanSettings = Omit<SharedPlanSettings, 'kind' | 'classWeights'> & { kind: 'grid' | 'fgg' }

/** The reference defaults. */
export const PLAN_DEFAULTS: Readonly<PlanSettings> = { kind: 'fgg', ...SHARED_PLAN_DEFAULTS }

/** FGG snapshots in a cyclic phase of `epochs` epochs: 1-based epochs e with (e mod c) + 1 = c/2. */
export function fggSnapshots(epochs: number, cycle: number): number {
  return fggSnapshotEpochs(epochs, cycle).length
}

/** Parses "1e-3, 5e-4" into numbers; null when any entry is not a positive number. */
export function parseNumberList(text: string): number[] | null {
  const parts = text.split(/[\s,;]+/).filter(Boolean)
  const values = parts.map(Number)
  return values.length > 0 && values.every((v) => Number.isFinite(v) && v >= 0) ? values : null
}

export { cosineLr, cyclicLr }

/** Points drawn per epoch of the cyclic phase (enough to show the triangle). */
const SAMPLES_PER_EPOCH = 16

/**
 * The planned learning rate of every group of a run, over epochs since the common start
 * (x = fractional epoch): cosine steps for grid members and FGG bases, then FGG's cyclic phase.
 * @param s the plan's settings
 * @param trainImages training images (sets the iterations per epoch)
 */
export function plannedSchedule(
  s: Pick<PlanSettings, 'kind' | 'lrs' | 'epochs' | 'fggEpochs' | 'cycle' | 'a1' | 'a2' | 'batchSize'>,
  trainImages: number
): { name: string; points: [number, number][] }[] {
  const iters = Math.max(1, Math.ceil(trainImages / Math.max(1, s.batchSize)))
  const step = Math.max(1, Math.floor(iters / SAMPLES_PER_EPOCH))
  return s.lrs.map((lr0) => {
    const points: [number, number][] = []
    for (let e = 1; e <= s.epochs; e++) {
      const lr = cosineLr(lr0, e, s.epochs)
      points.push([e - 1, lr], [e, lr])
    }
    if (s.kind === 'fgg') {
      for (let e = 1; e <= s.fggEpochs; e++) {
        for (let i = 0; i < iters; i += step)
          points.push([s.epochs + e - 1 + i / iters, cyclicLr(s.a1, s.a2, s.cycle, e, i, iters)])
      }
    }
    return { name: `lr ${formatLrShort(lr0)}`, points: points.filter((p) => p[1] > 0) }
  })
}

function formatLrShort(v: number): string {
  const [m, e] = v.toExponential().split('e')
  return `${Number(m)}e${Number(e)}`
}

/** The selection metric a run recorded in its config, else the default one. */
export function metricOf(config: unknown): string {
  const c = config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : null
  return typeof c?.metric === 'string' ? c.metric : PLAN_DEFAULTS.metric
}

/** The plan settings a run recorded in its config, or null when they are not there. */
export function settingsOf(config: unknown): PlanSettings | null {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return null
  const c = config as Record<string, unknown>
  const n = (k: string): number | null => (typeof c[k] === 'number' && Number.isFinite(c[k]) ? (c[k] as number) : null)
  const lrs = Array.isArray(c.lrs) && c.lrs.every((x) => typeof x === 'number' && x > 0) ? (c.lrs as number[]) : null
  const kind = c.kind === 'grid' || c.kind === 'fgg' ? c.kind : null
  const epochs = n('epochs')
  const batchSize = n('batchSize')
  if (!kind || !lrs || epochs === null || batchSize === null) return null
  return {
    ...PLAN_DEFAULTS,
    kind,
    lrs,
    epochs,
    batchSize,
    fggEpochs: n('fggEpochs') ?? PLAN_DEFAULTS.fggEpochs,
    cycle: n('cycle') ?? PLAN_DEFAULTS.cycle,
    a1: n('a1') ?? PLAN_DEFAULTS.a1,
    a2: n('a2') ?? PLAN_DEFAULTS.a2
  }
}
