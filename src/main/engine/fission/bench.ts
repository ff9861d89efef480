/**
 * `bench fission`: the Fission benchmark, end to end on real data. A small CNN is
 * pretrained on Fashion-MNIST (Debian's `dataset-fashion-mnist`, the offline stand-in for
 * ImageNet), then an FGG plan runs on RetinaMNIST from it (linear probe, one base per learning
 * rate, the cyclic phase), in the same pool of engine processes the fission job uses. Reports
 * wall times, every member's validation and test quadratic kappa, and the best member by
 * validation with a bootstrap 95% CI of its test kappa. With `fuse`, the Fusion issue's table
 * follows on the same members (best, uniform, greedy, GoU, GoG with bootstrap CIs, and the
 * corruption suite), timed.
 */
import * as tf from '@tensorflow/tfjs'
import { existsSync, promises as fsp } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { importDataset } from '../data/import'
import type { DatasetMeta, SplitName } from '../data/types'
import type { ConfidenceInterval } from '../evaluate/bootstrap'
import type { MetricId } from '../evaluate/index'
import { evaluateModel } from '../evaluate/model'
import { runFusion } from '../fusion/run'
import type { MethodId } from '../fusion/methods'
import type { EpochRecord } from '../models/checkpoint'
import { getArch } from '../models/index'
import { AdamW } from './adamw'
import { labelTensors } from './losses'
import { buildPlan, PLAN_DEFAULTS, PRETRAIN_DEFAULTS } from './plans'
import { processUnitRunner } from './pool'
import { runPlan, type PlanOutcome, type RunSetup, type UnitRunner } from './run'
import { bareStep, zeroTiming, type TimingParts, type TrainTiming } from './trainer'
import { DEFAULT_FUSE_METHOD_IDS } from '../../../shared/vocabulary'

/** Settings of the benchmark; defaults are the recipe. */
export interface FissionBenchOptions {
  /** Fashion-MNIST idx folder (default Debian's /usr/share/datasets/fashion-mnist). */
  pretrainData?: string
  /** The medical dataset (default ../shared/data/medmnist/retinamnist.npz beside the repository). */
  data: string
  /** Working folder (default a new temporary one); caches and runs are kept there, so a rerun resumes. */
  workDir?: string
  arch?: string
  /** A pretrained checkpoint folder to start from instead of pretraining (e.g. an earlier run's pretrain/pretrain/best). */
  pretrained?: string
  /** Pretraining epochs (default 4) and training images used (default all). */
  pretrainEpochs?: number
  pretrainImages?: number
  /** FGG settings (defaults: METHOD.md's 8 rates, 10 base epochs, 17 cyclic epochs, cycle 4, 10 linear-probe epochs). */
  lrs?: number[]
  epochs?: number
  fggEpochs?: number
  cycle?: number
  lpEpochs?: number
  batchSize?: number
  /** Selection metric (default kappa). */
  metric?: MetricId
  /** Engine processes at once (default one per core). */
  workers?: number
  backend?: 'wasm' | 'cpu' | 'tensorflow' | 'auto'
  /** Also fuse the FGG members (best, uniform, greedy, GoU, GoG; 1,000 resamples; corruption suite) and time it. */
  fuse?: boolean
  onProgress?: (line: string) => void
}

/** One FGG member's scores. */
export interface BenchMember {
  id: string
  lr: number
  /** Lineage epoch (0: the base). */
  epoch: number
  val: number
  test: number
  testAcc: number
}

/** What `bench fission` prints. */
export interface FissionBenchResult {
  /** 1-minute load average when the benchmark started and ended (the machine may be shared). */
  load: { start: number; end: number }
  backend: string
  workers: number
  metric: MetricId
  /** The pretraining (`given`: a checkpoint was passed, nothing pretrained in this run). */
  pretrain: { images: number; epochs: number; seconds: number; valAcc: number; given?: boolean }
  fgg: {
    lrs: number[]
    lpEpochs: number
    epochs: number
    fggEpochs: number
    cycle: number
    members: number
    seconds: number
    status: string
  }
  members: BenchMember[]
  /** The member with the best validation score, with a bootstrap CI (1,000 resamples) of its test score. */
  best: BenchMember & { testCi: ConfidenceInterval }
  /** The best test score over all members (not a fair selection; for comparison only). */
  maxTest: number
  /** Where the FGG plan's time went (see {@link TrainingProfile}). */
  training: TrainingProfile
  /** With `fuse`: the fuse table and its wall time (this process, the active backend). */
  fusion?: {
    seconds: number
    /** Where the fusion's time went (engine/fusion/run.ts FuseSeconds). */
    parts: Record<string, number>
    methods: {
      method: MethodId
      val: number
      test: Record<MetricId, ConfidenceInterval>
      corruptionMean: number | null
      epochs: number
    }[]
  }
}

const FUSE_METHODS: MethodId[] = [...DEFAULT_FUSE_METHOD_IDS]

/** Where a plan's time went, per worker (engine process), and the bare step it is compared with. */
export interface TrainingProfile {
  /** The bare training step (forward, backward, AdamW update on one random batch, repeated) in this process before the plan: images/s, median of the timed steps. */
  bare: { imagesPerSecond: number; imagesPerCpuSecond: number; batch: number; steps: number }
  /**
   * Fine-tuning units (bases, cyclic phases): images trained per second of a worker's time in the
   * trainer (and per CPU second, which other programs on a shared machine do not inflate), the
   * ratios to the bare step's, and that time split (wall seconds summed over units).
   */
  perWorker: {
    imagesPerSecond: number
    ratioToBare: number
    imagesPerCpuSecond: number
    cpuRatioToBare: number
    images: number
    seconds: TimingParts
    cpuSeconds: number
    /** CPU seconds by part (summed over units; cpuSeconds also holds what lies between the parts: the per-epoch training metrics, GC outside them). */
    cpuParts: TimingParts
  }
  /** The linear probe (one unit, head only, the other workers wait for it). */
  lp: { images: number; seconds: TimingParts } | null
  /** Worker time outside the trainer: process start, backend start, reading the starting checkpoint, summed over units. */
  unitOverheadSeconds: number
}

/**
 * Images per second of the bare training step for a network and batch: random inputs, the
 * trainer's loss, tf.variableGrads and AdamW, nothing else (no data, augmentation, metrics).
 */
export function bareStepRate(o: {
  arch: string
  inputShape: [number, number, number]
  classes: number
  batch: number
  warmup?: number
  steps?: number
}): TrainingProfile['bare'] {
  const model = getArch(o.arch).build({ inputShape: o.inputShape, numClasses: o.classes, seed: 0 })
  const params = model.layers.flatMap((l) =>
    l.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
  )
  const opt = new AdamW({ weightDecay: 1e-4 })
  const x = tf.randomNormal([o.batch, ...o.inputShape], 0, 1, 'float32', 1) as tf.Tensor4D
  const y = Int32Array.from({ length: o.batch }, (_, i) => i % o.classes)
  const labels = labelTensors('single', y, o.batch)
  const times: number[] = []
  const cpus: number[] = []
  try {
    const steps = o.steps ?? 8
    for (let i = 0; i < (o.warmup ?? 2) + steps; i++) {
      const t0 = performance.now()
      const c0 = process.cpuUsage()
      bareStep(model, params, opt, x, labels, 1e-4)
      const c = process.cpuUsage(c0)
      if (i >= (o.warmup ?? 2)) {
        times.push((performance.now() - t0) / 1000)
        cpus.push((c.user + c.system) / 1e6)
      }
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
    return {
      imagesPerSecond: +(o.batch / median(times)).toFixed(1),
      imagesPerCpuSecond: +(o.batch / median(cpus)).toFixed(1),
      batch: o.batch,
      steps
    }
  } finally {
    opt.dispose()
    tf.dispose([x, labels.y, labels.mask ?? []])
    model.dispose()
  }
}

/** Fuses the FGG members as the Fusion issue's benchmark asks (groups = learning rates). */
async function fuseMembers(
  runDir: string,
  data: string,
  members: PlanOutcome['members'],
  metric: MetricId
): Promise<NonNullable<FissionBenchResult['fusion']>> {
  const t0 = Date.now()
  const report = await runFusion({
    members: members.map((m) => {
      const parent = members
        .filter((p) => p.group === m.group && p.epoch < m.epoch)
        .reduce<typeof m | undefined>((a, p) => (a && a.epoch > p.epoch ? a : p), undefined)
      return {
        id: m.id,
        dir: join(runDir, m.checkpoint),
        hparams: { lr: m.lr, lineage: m.group, epoch: m.epoch },
        epochs: m.epochsTrained - (parent?.epochsTrained ?? 0),
        seconds: m.seconds - (parent?.seconds ?? 0)
      }
    }),
    datasetDir: data,
    metric,
    methods: FUSE_METHODS,
    corruptions: true,
    bootstrap: { resamples: 1000, seed: 0 }
  })
  return {
    seconds: (Date.now() - t0) / 1000,
    parts: { ...report.seconds },
    methods: report.methods.map((r) => {
      const scores = Object.values(r.corruptions ?? {})
        .flatMap((levels) => levels.map((l) => l[metric]))
        .filter(Number.isFinite)
      return {
        method: r.method,
        val: r.val,
        test: r.test.metrics,
        corruptionMean: scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null,
        epochs: r.epochs
      }
    })
  }
}

/** Sums the trainer timings of a plan's units (see {@link TrainingProfile}). */
function profileOf(plan: PlanOutcome, bare: TrainingProfile['bare'], unitWall: number): TrainingProfile {
  const sum = (units: PlanOutcome['units']): Required<TrainTiming> => {
    const t = zeroTiming()
    for (const u of units) {
      for (const k of ['train', 'augment', 'data', 'eval', 'checkpoint', 'images', 'cpu'] as const)
        t[k] += u.result.timing?.[k] ?? 0
      for (const k of Object.keys(t.cpuParts) as (keyof TimingParts)[])
        t.cpuParts[k] += u.result.timing?.cpuParts?.[k] ?? 0
    }
    return t
  }
  const round = (t: TimingParts): TimingParts => ({
    train: +t.train.toFixed(2),
    augment: +t.augment.toFixed(2),
    data: +t.data.toFixed(2),
    eval: +t.eval.toFixed(2),
    checkpoint: +t.checkpoint.toFixed(2)
  })
  const total = (t: TrainTiming) => t.train + t.augment + t.data + t.eval + t.checkpoint
  const fine = sum(plan.units.filter((u) => u.unit !== 'lp'))
  const lpUnits = plan.units.filter((u) => u.unit === 'lp')
  const lp = lpUnits.length > 0 ? sum(lpUnits) : null
  const rate = fine.images / Math.max(total(fine), 1e-9)
  return {
    bare,
    perWorker: {
      imagesPerSecond: +rate.toFixed(1),
      ratioToBare: +(rate / bare.imagesPerSecond).toFixed(3),
      imagesPerCpuSecond: +(fine.images / Math.max(fine.cpu, 1e-9)).toFixed(1),
      cpuRatioToBare: +(fine.images / Math.max(fine.cpu, 1e-9) / bare.imagesPerCpuSecond).toFixed(3),
      images: fine.images,
      seconds: round(fine),
      cpuSeconds: +fine.cpu.toFixed(1),
      cpuParts: round(fine.cpuParts)
    },
    lp: lp ? { images: lp.images, seconds: round(lp) } : null,
    unitOverheadSeconds: +(unitWall - total(fine) - (lp ? total(lp) : 0)).toFixed(1)
  }
}

/** Writes the first `n` training images of a single-label cache (val and test kept) to `dst`. */
async function trainSubset(src: string, dst: string, n: number): Promise<void> {
  if (existsSync(join(dst, 'meta.json'))) return
  const meta = JSON.parse(await fsp.readFile(join(src, 'meta.json'), 'utf8')) as DatasetMeta
  if (meta.task !== 'single') throw new Error('--pretrain-images: the pretraining dataset must be single-label')
  const take = Math.min(n, meta.counts.train)
  const plane = meta.size[0] * meta.size[1] * meta.channels
  await fsp.mkdir(dst, { recursive: true })
  const copy = async (split: SplitName, count: number): Promise<void> => {
    const images = await fsp.readFile(join(src, `${split}.images.u8`))
    const labels = await fsp.readFile(join(src, `${split}.labels.i32`))
    await fsp.writeFile(join(dst, `${split}.images.u8`), images.subarray(0, count * plane))
    await fsp.writeFile(join(dst, `${split}.labels.i32`), labels.subarray(0, count * 4))
  }
  await copy('train', take)
  await copy('val', meta.counts.val)
  await copy('test', meta.counts.test)
  const { thumbnails: _t, ...rest } = meta
  await fsp.writeFile(join(dst, 'meta.json'), JSON.stringify({ ...rest, counts: { ...meta.counts, train: take } }))
}

async function cached(input: string, dir: string): Promise<string> {
  if (!existsSync(join(dir, 'meta.json'))) await importDataset({ input }, { outDir: dir })
  return dir
}

/** Runs the benchmark (resumable in `workDir`). */
export async function benchFission(o: FissionBenchOptions): Promise<FissionBenchResult> {
  const say = o.onProgress ?? (() => {})
  const loadStart = loadavg()[0]
  const work = o.workDir ?? (await fsp.mkdtemp(join(tmpdir(), 'ff-bench-fission-')))
  const metric = o.metric ?? 'kappa'
  const arch = o.arch ?? 'smallcnn'
  const workers = o.workers ?? availableParallelism()
  let backend = ''
  const runner = processUnitRunner({
    backend: o.backend ?? 'auto',
    threads: 1,
    onBackend: (b, w) => {
      backend = b
      if (w) say(`warning: ${w}`)
    }
  })
  const log = (unit: string, r: EpochRecord): void =>
    say(
      `${unit} epoch ${r.epoch}: val loss ${r.val.loss.toFixed(4)}, ${metric} ${r.val[metric].toFixed(3)} (${r.seconds.toFixed(1)} s)`
    )

  say(`importing into ${work}`)
  const data = await cached(o.data, join(work, 'data'))
  const pretrainEpochs = o.pretrainEpochs ?? 4
  let pretrain: FissionBenchResult['pretrain']
  let startDir: string
  if (o.pretrained) {
    startDir = o.pretrained
    pretrain = { images: 0, epochs: 0, seconds: 0, valAcc: NaN, given: true }
  } else {
    let fmnist = await cached(o.pretrainData ?? '/usr/share/datasets/fashion-mnist', join(work, 'fashion-mnist'))
    if (o.pretrainImages !== undefined) {
      await trainSubset(fmnist, join(work, `fashion-mnist-${o.pretrainImages}`), o.pretrainImages)
      fmnist = join(work, `fashion-mnist-${o.pretrainImages}`)
    }
    const t0 = Date.now()
    const preSetup: RunSetup = {
      runDir: join(work, 'pretrain'),
      dataset: fmnist,
      arch,
      start: { kind: 'random', seed: 0 },
      plan: buildPlan({ ...PLAN_DEFAULTS, ...PRETRAIN_DEFAULTS, kind: 'pretrain', epochs: pretrainEpochs })
    }
    const pre = await runPlan(preSetup, { runUnit: runner, onEpoch: log })
    if (pre.status !== 'done') throw new Error(`pretraining ended ${pre.status}`)
    const preMember = pre.members[0]
    startDir = join(preSetup.runDir, preMember.checkpoint)
    pretrain = {
      images: (JSON.parse(await fsp.readFile(join(fmnist, 'meta.json'), 'utf8')) as DatasetMeta).counts.train,
      epochs: pretrainEpochs,
      seconds: (Date.now() - t0) / 1000,
      valAcc: preMember.val.acc
    }
  }

  const settings = {
    ...PLAN_DEFAULTS,
    kind: 'fgg' as const,
    lrs: o.lrs ?? PLAN_DEFAULTS.lrs,
    epochs: o.epochs ?? 10,
    fggEpochs: o.fggEpochs ?? 17,
    cycle: o.cycle ?? 4,
    lpEpochs: o.lpEpochs ?? 10,
    batchSize: o.batchSize ?? PLAN_DEFAULTS.batchSize,
    metric
  }
  const fggSetup: RunSetup = {
    runDir: join(work, 'fgg'),
    dataset: data,
    arch,
    start: { kind: 'checkpoint', dir: startDir },
    plan: buildPlan(settings)
  }
  const dataMeta = JSON.parse(await fsp.readFile(join(data, 'meta.json'), 'utf8')) as DatasetMeta
  const bare = bareStepRate({
    arch,
    inputShape: [dataMeta.size[0], dataMeta.size[1], 3],
    classes: dataMeta.classes.length,
    batch: settings.batchSize
  })
  say(
    `bare training step (${arch}, batch ${settings.batchSize}, this process): ${bare.imagesPerSecond.toFixed(0)} images/s, ${bare.imagesPerCpuSecond.toFixed(0)} per CPU second`
  )
  let unitWall = 0
  const timedRunner: UnitRunner = async (setup, unit, hooks) => {
    const t = performance.now()
    try {
      return await runner(setup, unit, hooks)
    } finally {
      unitWall += (performance.now() - t) / 1000
    }
  }
  const t1 = Date.now()
  const fgg = await runPlan(fggSetup, { concurrency: workers, runUnit: timedRunner, onEpoch: log }).finally(() =>
    runner.close()
  )
  const fggSeconds = (Date.now() - t1) / 1000
  say(`FGG plan ${fgg.status} in ${fggSeconds.toFixed(0)} s`)
  const training = profileOf(fgg, bare, unitWall)
  say(
    `per worker: ${training.perWorker.imagesPerSecond.toFixed(0)} images/s (${(100 * training.perWorker.ratioToBare).toFixed(0)}% of the bare step), ${training.perWorker.imagesPerCpuSecond.toFixed(0)} per CPU second (${(100 * training.perWorker.cpuRatioToBare).toFixed(0)}%); seconds ${JSON.stringify(training.perWorker.seconds)}`
  )

  const members: (BenchMember & { testCi: ConfidenceInterval })[] = []
  for (const m of fgg.members) {
    const { metrics } = await evaluateModel({
      checkpointDir: join(fggSetup.runDir, m.checkpoint),
      datasetDir: data,
      split: 'test',
      bootstrap: { resamples: 1000, seed: 0 }
    })
    members.push({
      id: m.id,
      lr: m.lr,
      epoch: m.epoch,
      val: m.val[metric],
      test: metrics[metric].value,
      testAcc: metrics.acc.value,
      testCi: metrics[metric]
    })
  }
  if (members.length === 0) throw new Error('the FGG plan produced no member')
  const best = members.reduce((a, b) => (b.val > a.val ? b : a))
  let fusion: FissionBenchResult['fusion']
  if (o.fuse) {
    say(`fusing the FGG members: ${FUSE_METHODS.join(', ')}, with the corruption suite`)
    fusion = await fuseMembers(fggSetup.runDir, data, fgg.members, metric)
    say(`fusion done in ${fusion.seconds.toFixed(0)} s`)
  }
  return {
    load: { start: +loadStart.toFixed(2), end: +loadavg()[0].toFixed(2) },
    backend,
    workers,
    metric,
    pretrain,
    fgg: {
      lrs: settings.lrs,
      lpEpochs: settings.lpEpochs,
      epochs: settings.epochs,
      fggEpochs: settings.fggEpochs,
      cycle: settings.cycle,
      members: members.length,
      seconds: fggSeconds,
      status: fgg.status
    },
    members: members.map(({ testCi: _c, ...m }) => m),
    best,
    maxTest: Math.max(...members.map((m) => m.test)),
    training,
    ...(fusion ? { fusion } : {})
  }
}
