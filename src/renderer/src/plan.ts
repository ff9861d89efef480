/**
 * The Fission plan form's settings, their defaults (the reference implementation's, see
 * ../shared/design/METHOD.md) and the pure arithmetic of what a plan costs.
 */

/** Augmentation presets. */
export type AugPreset = 'minimal' | 'medium' | 'heavy'

/** Every setting of a plan. */
export interface PlanSettings {
  /** 'grid' (model-soups baseline) or 'fgg' (Fast Geometric Generation). */
  kind: 'grid' | 'fgg'
  /** Learning rates, one basin each (per iteration, > 0). */
  lrs: number[]
  /** Grid: seeds to repeat every setting with. */
  seeds: number[]
  /** Grid: augmentation presets to try. */
  augs: AugPreset[]
  /** Epochs of each grid member / FGG base model (cosine annealing, T_max = epochs). */
  epochs: number
  /** Mini-batch size, images. */
  batchSize: number
  /** AdamW weight decay. */
  weightDecay: number
  /** FGG: seed of the base models. */
  fggSeed: number
  /** FGG: augmentation of the base models and cycles. */
  fggAug: AugPreset
  /** FGG: epochs of the cyclic phase after each base model. */
  fggEpochs: number
  /** FGG: cycle length c, epochs (even). */
  cycle: number
  /** FGG: highest learning rate of the cycle (a1). */
  a1: number
  /** FGG: lowest learning rate of the cycle (a2). */
  a2: number
  /** Linear-probe epochs before the members (0 = none): backbone frozen, new head trained. */
  lpEpochs: number
  /** Linear-probe learning rate. */
  lpLr: number
  /** Linear probe: stop after this many epochs without a lower validation loss. */
  lpPatience: number
  /** Seed of the new classification head, shared by every member. */
  headSeed: number
  /** Selection metric: acc, f1, recall, kappa or auc. */
  metric: 'acc' | 'f1' | 'recall' | 'kappa' | 'auc'
}

/** The reference defaults. */
export const PLAN_DEFAULTS: Readonly<PlanSettings> = {
  kind: 'fgg',
  lrs: [1e-3, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6, 1e-6, 1e-7],
  seeds: [0, 1],
  augs: ['minimal', 'medium', 'heavy'],
  epochs: 50,
  batchSize: 128,
  weightDecay: 1e-4,
  fggSeed: 1,
  fggAug: 'heavy',
  fggEpochs: 17,
  cycle: 4,
  a1: 1e-5,
  a2: 1e-8,
  lpEpochs: 0,
  lpLr: 1e-3,
  lpPatience: 8,
  headSeed: 0,
  metric: 'acc'
}

/** FGG snapshots in a cyclic phase of `epochs` epochs: 1-based epochs e with (e mod c) + 1 = c/2. */
export function fggSnapshots(epochs: number, cycle: number): number {
  let n = 0
  for (let e = 1; e <= epochs; e++) if ((e % cycle) + 1 === cycle / 2) n++
  return n
}

/** Parses "1e-3, 5e-4" into numbers; null when any entry is not a positive number. */
export function parseNumberList(text: string): number[] | null {
  const parts = text.split(/[\s,;]+/).filter(Boolean)
  const values = parts.map(Number)
  return values.length > 0 && values.every((v) => Number.isFinite(v) && v >= 0) ? values : null
}

/** Learning rate of 1-based `epoch` of a cosine schedule over `tMax` epochs (constant within an epoch). */
export function cosineLr(lr0: number, epoch: number, tMax: number): number {
  return (lr0 * (1 + Math.cos((Math.PI * (epoch - 1)) / tMax))) / 2
}

/** FGG's triangular cyclic rate at iteration `i` of 1-based `epoch` (METHOD.md). */
export function cyclicLr(a1: number, a2: number, cycle: number, epoch: number, i: number, itersPerEpoch: number): number {
  const t = ((epoch % cycle) + i / itersPerEpoch) / cycle
  return t < 0.5 ? a1 * (1 - 2 * t) + a2 * 2 * t : a1 * (2 * t - 1) + a2 * (2 - 2 * t)
}

/** Points drawn per epoch of the cyclic phase (enough to show the triangle). */
const SAMPLES_PER_EPOCH = 16

/**
 * The planned learning rate of every group of a run, over epochs since the common start
 * (x = fractional epoch): cosine steps for grid members and FGG bases, then FGG's cyclic phase.
 * @param s the plan's settings
 * @param trainImages training images (sets the iterations per epoch)
 */
export function plannedSchedule(s: Pick<PlanSettings, 'kind' | 'lrs' | 'epochs' | 'fggEpochs' | 'cycle' | 'a1' | 'a2' | 'batchSize'>, trainImages: number): { name: string; points: [number, number][] }[] {
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
        for (let i = 0; i < iters; i += step) points.push([s.epochs + e - 1 + i / iters, cyclicLr(s.a1, s.a2, s.cycle, e, i, iters)])
      }
    }
    return { name: `lr ${formatLrShort(lr0)}`, points: points.filter((p) => p[1] > 0) }
  })
}

function formatLrShort(v: number): string {
  const [m, e] = v.toExponential().split('e')
  return `${Number(m)}e${Number(e)}`
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
