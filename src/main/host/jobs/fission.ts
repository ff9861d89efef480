/**
 * 'fission': the Fission half of a run. Plans the members (grid, FGG or pretrain; see
 * engine/fission/plans.ts), records the run and its members in the store, trains the units in a
 * pool of engine processes (one per core on CPU backends, one at a time on the GPU backend),
 * streams per-epoch metrics and records each member's checkpoint, epochs, wall time, backend and
 * validation score. Resumable: the run id is kept in the job state; a resumed job continues every
 * unit from its last completed epoch.
 */
import { availableParallelism } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { z } from 'zod'
import type { Json } from '../../../shared/records'
import type { Store } from '../../store'
import type { Workspace } from '../../workspace'
import { recordCheckpoint } from '../integrity'
import { fissionParams } from '../../../shared/jobs'
import { metricsOf } from '../../../shared/vocabulary'
import type { FissionMember, FissionResult } from '../../../shared/job-results'
import { defineJob, type JobContext } from './types'
import type { ArchOptions } from '../../engine/models/types'
import { mergeSlurm, readSlurmDefaults, type SlurmState } from '../slurm'

export { fissionParams }

type FissionParams = z.output<typeof fissionParams>

interface FissionState {
  [key: string]: Json
  runId: string
}

/** Resolves `--from` to a start source, naming what was not found. */
function resolveStart(
  from: string,
  workspace: Workspace,
  store: Store
): { kind: 'random' } | { kind: 'checkpoint'; dir: string } | { kind: 'tfjs'; path: string } {
  if (from === 'random') return { kind: 'random' }
  const imported = join(workspace.dir, 'pretrained', from)
  if (/^pt-[0-9a-f]{10}$/.test(from) && existsSync(join(imported, 'model.json')))
    return { kind: 'checkpoint', dir: imported }
  const member = store.runs.getMember(from)
  if (member) {
    if (!member.checkpointPath)
      throw new Error(`--from ${from}: member has no checkpoint yet (status ${member.status})`)
    return { kind: 'checkpoint', dir: workspace.resolve(member.checkpointPath) }
  }
  const soup = store.soups.get(from)
  if (soup) {
    if (!soup.checkpointPath) throw new Error(`--from ${from}: soup has no checkpoint`)
    return { kind: 'checkpoint', dir: workspace.resolve(soup.checkpointPath) }
  }
  const path = isAbsolute(from) ? from : resolve(from)
  const json = path.endsWith('.json') ? path : join(path, 'model.json')
  if (!existsSync(json))
    throw new Error(`--from ${from}: not 'random', a member or soup id, or a folder with model.json`)
  const doc = JSON.parse(readFileSync(json, 'utf8')) as { format?: string; weightsManifest?: unknown }
  if (doc.format === 'fissionfusion-checkpoint')
    return { kind: 'checkpoint', dir: path.endsWith('.json') ? join(path, '..') : path }
  if (doc.weightsManifest) return { kind: 'tfjs', path: json }
  throw new Error(`--from ${from}: model.json is neither a FissionFusion checkpoint nor a TF.js LayersModel`)
}

/**
 * A start from an imported network (pt-…) fixes the architecture and its options (stem, width) to
 * the network's; `--arch` may only repeat it. Warns when the dataset's image size differs from the
 * size the weights were pretrained at (the run trains at the dataset's size).
 */
async function withImportedArch(
  p: FissionParams,
  workspace: Workspace,
  store: Store,
  warn: (m: string) => void
): Promise<{ p: FissionParams; archOptions?: ArchOptions }> {
  const fallback = p.width !== undefined ? { widthMultiplier: p.width } : undefined
  const { isPretrained, pretrainedDir } = await import('../../engine/models/pretrained/library')
  const { readCheckpointMeta } = await import('../../engine/models/checkpoint')
  if (!isPretrained(workspace.dir, p.from)) {
    // A workspace checkpoint of the same architecture (e.g. a member of a free-form ViT run) keeps
    // its options (the ViT's dimensions, the stem), so the memory plan measures the network that trains.
    let start: ReturnType<typeof resolveStart> | null = null
    try {
      start = resolveStart(p.from, workspace, store)
    } catch {
      /* named again when the run starts */
    }
    if (start?.kind !== 'checkpoint') return { p, archOptions: fallback }
    const meta = await readCheckpointMeta(start.dir).catch(() => null)
    if (!meta || meta.arch !== p.arch) return { p, archOptions: fallback }
    const options = { ...meta.archOptions, ...fallback }
    return { p, ...(Object.keys(options).length > 0 ? { archOptions: options } : {}) }
  }
  const meta = await readCheckpointMeta(pretrainedDir(workspace.dir, p.from))
  if (p.arch !== 'smallcnn' && p.arch !== meta.arch)
    throw new Error(`--from ${p.from} is a ${meta.arch}; --arch ${p.arch} does not match it`)
  const size = (store.datasets.get(p.datasetId)?.meta as { size?: number[] } | null | undefined)?.size
  if (size && (size[0] !== meta.inputShape[0] || size[1] !== meta.inputShape[1])) {
    warn(
      `${p.from} was pretrained at ${meta.inputShape[0]}×${meta.inputShape[1]} px; this dataset is ${size[0]}×${size[1]} px, so the run trains and evaluates at ${size[0]}×${size[1]} (re-import the dataset with --size ${meta.inputShape[0]} to match)`
    )
  }
  return { p: { ...p, arch: meta.arch }, archOptions: meta.archOptions }
}

/** The plan settings and units of a fission job's params (pure; also used by `fission --dry-run`). */
export async function fissionPlanOf(p: FissionParams) {
  const { buildPlan, PLAN_DEFAULTS, PRETRAIN_DEFAULTS } = await import('../../engine/fission/plans')
  // The plan settings the params give: those of their fields that are plan settings too.
  const params: Record<string, unknown> = p
  const given = Object.fromEntries(
    Object.keys(PLAN_DEFAULTS)
      .map((k) => [k, params[k]])
      .filter(([, v]) => v !== undefined)
  ) as Partial<typeof PLAN_DEFAULTS>
  const settings = { ...PLAN_DEFAULTS, ...(p.plan === 'pretrain' ? PRETRAIN_DEFAULTS : {}), ...given, kind: p.plan }
  return { settings, plan: buildPlan(settings) }
}

/**
 * The memory budget of the run's engine processes: the footprint of the architecture at the
 * dataset's image size (measured once per workspace in a short-lived engine process), the
 * micro-batch of each batch size, logged; throws before any work when not even one image fits.
 */
async function planRunMemory(
  ctx: JobContext,
  p: FissionParams,
  archOptions: ArchOptions | undefined,
  batchSizes: number[],
  workers: number,
  backend: string
) {
  const {
    footprintFor,
    planMemory,
    defaultMemoryLimit,
    formatBytes,
    MiB: mib
  } = await import('../../engine/models/memory')
  const { DatasetReader } = await import('../../engine/data/reader')
  const size = (
    await DatasetReader.open(ctx.workspace.datasetDir(p.datasetId)).then(
      (r) => r.close().then(() => r.meta),
      () => null
    )
  )?.size
  if (!size) throw new Error(`dataset ${p.datasetId} has no image size (import it again)`)
  const limitBytes = p.memoryLimitMiB !== undefined ? p.memoryLimitMiB * mib : defaultMemoryLimit(workers)
  const footprint = await footprintFor({
    arch: p.arch,
    ...(archOptions ? { archOptions } : {}),
    inputShape: [size[0], size[1], 3],
    backend,
    cacheDir: join(ctx.workspace.dir, 'cache', 'memory')
  })
  const plans = [...new Set(batchSizes)].map((b) => planMemory(footprint, b, limitBytes))
  const bad = plans.find((m) => !m.fits)
  if (bad) throw new Error(bad.message)
  const worst = plans.reduce((a, b) => (b.expectedPeakBytes > a.expectedPeakBytes ? b : a))
  ctx.log(
    'info',
    `memory: ${p.arch} at ${size.join('×')}×3 needs ${formatBytes(footprint.trainPerImageBytes)} per training image; ` +
      plans
        .map(
          (m) =>
            `batch ${m.batchSize} ${m.microBatches > 1 ? `as ${m.microBatches} micro-batches of ≤ ${m.microBatch}` : 'in one pass'}`
        )
        .join(', ') +
      `; expected peak ${formatBytes(worst.expectedPeakBytes)} per engine process (limit ${formatBytes(limitBytes)}${p.memoryLimitMiB === undefined ? `, the default for ${workers} worker(s)` : ''})`
  )
  return {
    setup: { limitBytes, footprint },
    report: {
      limitMiB: Math.round(limitBytes / mib),
      perImageMiB: Math.round(footprint.trainPerImageBytes / mib),
      expectedPeakMiB: Math.round(worst.expectedPeakBytes / mib),
      batches: plans.map((m) => ({
        batchSize: m.batchSize,
        microBatch: m.microBatch,
        microBatches: m.microBatches,
        evalBatch: m.evalBatch
      }))
    }
  }
}

export const fissionJob = defineJob<'fission', FissionState>({
  kind: 'fission',
  description:
    'Fission: train the members of a grid-search, FGG or pretraining plan (pooled engine processes, resumable).',
  params: fissionParams,
  links: (p) => ({ datasetId: p.datasetId }),
  async run(ctx, params: FissionParams) {
    const { p, archOptions } = await withImportedArch(params, ctx.workspace, ctx.store, (m) => ctx.log('warn', m))
    const { initBackend } = await import('../../engine/compute')
    const { runPlan, prepareStart } = await import('../../engine/fission/run')
    const { processUnitRunner } = await import('../../engine/fission/pool')
    const { getArch } = await import('../../engine/models')
    const { peakRss, MiB } = await import('../../engine/models/memory')

    const dataset = ctx.store.datasets.get(p.datasetId)
    if (!dataset) throw new Error(`dataset ${p.datasetId} not found`)
    getArch(p.arch)
    const { settings, plan } = await fissionPlanOf(p)

    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    const workers = p.workers ?? (info.device === 'gpu' ? 1 : availableParallelism())
    const slurmOptions = p.executor === 'slurm' ? mergeSlurm(readSlurmDefaults(ctx.workspace.dir), p.slurm) : null
    const memory = await planRunMemory(
      ctx,
      p,
      archOptions,
      plan.units.map((u) => u.batchSize),
      workers,
      info.backend
    )

    let runId = ctx.state.get()?.runId
    if (!runId || !ctx.store.runs.get(runId)) {
      const run = ctx.store.runs.create({
        name: p.name ?? `${p.plan} ${p.arch} on ${dataset.name}`,
        datasetId: p.datasetId,
        kind: p.plan,
        config: JSON.parse(JSON.stringify({ ...settings, arch: p.arch, width: p.width, from: p.from })) as Json
      })
      runId = run.id
      ctx.state.set({ runId })
      ctx.store.jobs.linkRun(ctx.jobId, runId) // a fuse of this run is refused while this job runs
    }
    const runDir = ctx.workspace.runDir(runId)
    ctx.store.runs.setStatus(runId, 'running')

    // Members in the store: one row per planned member, ids derived from the run, FGG snapshots chained to their parent.
    const storeId = (specId: string) => `${runId}-${specId}`
    const existing = new Set(ctx.store.runs.listMembers(runId).map((m) => m.id))
    for (const unit of plan.units) {
      unit.members.forEach((m, k) => {
        if (existing.has(storeId(m.id))) return
        const parent =
          m.epoch > 0
            ? k > 0
              ? unit.members[k - 1].id
              : plan.units.find((u) => u.id === unit.dependsOn[0])?.members[0]?.id
            : undefined
        ctx.store.runs.createMember({
          id: storeId(m.id),
          runId: runId as string,
          name: m.id,
          parentId: parent ? storeId(parent) : null,
          groupKey: m.group,
          hyperparams: { lr: m.lr, seed: m.seed, aug: m.aug, epoch: m.epoch, arch: p.arch, plan: p.plan }
        })
      })
    }

    const setup = {
      runDir,
      dataset: ctx.workspace.datasetDir(p.datasetId),
      arch: p.arch,
      ...(archOptions ? { archOptions } : {}),
      start: resolveStart(p.from, ctx.workspace, ctx.store),
      plan,
      info: { runId, datasetId: p.datasetId, plan: p.plan },
      memory: memory.setup
    }
    const started = await prepareStart(setup)
    if (started)
      ctx.log(
        'info',
        `starting point: ${p.from} (${started.transferred} weights transferred, ${started.initialised} initialised)`
      )
    ctx.log(
      'info',
      `run ${runId}: ${plan.units.length} trainings, ${plan.units.reduce((s, u) => s + u.members.length, 0)} members, ${slurmOptions ? 'a Slurm job array' : `${workers} worker process(es)`} on ${info.backend}`
    )

    const totalEpochs = plan.units.reduce((s, u) => s + u.epochs, 0)
    const doneEpochs = new Map<string, number>()
    const t0 = Date.now()
    const memberOfEpoch = (unitId: string, epoch: number) => {
      const unit = plan.units.find((u) => u.id === unitId)
      return unit?.members.find((m) => m.historyEpoch === 'best' || (m.historyEpoch as number) >= epoch)
    }
    const runUnit = processUnitRunner({
      backend: info.backend,
      threads: 1,
      onBackend: (b, w) => {
        if (w && w !== info.warning) ctx.log('warn', `${b}: ${w}`)
      }
    })
    const hooks = {
      signal: ctx.signal,
      onUnitStart: (u) => {
        for (const m of plan.units.find((x) => x.id === u)?.members ?? [])
          ctx.store.runs.updateMember(storeId(m.id), { status: 'running', backend: info.backend })
      },
      onEpoch: (unit, r) => {
        doneEpochs.set(unit, r.epoch)
        const m = memberOfEpoch(unit, r.epoch)
        const metrics: Record<string, number> = { lr: r.lr, seconds: r.seconds }
        for (const [split, vals] of [
          ['train', r.train],
          ['val', r.val]
        ] as const) {
          for (const [k, v] of Object.entries(vals)) if (Number.isFinite(v)) metrics[`${split}_${k}`] = v
        }
        if (m) ctx.store.runs.recordEpoch(storeId(m.id), r.epoch, metrics)
        else
          ctx.log(
            'info',
            `${unit} epoch ${r.epoch}: val loss ${r.val.loss.toFixed(4)}, ${settings.metric} ${r.val[settings.metric].toFixed(3)}`
          )
        const done = [...doneEpochs.values()].reduce((a, b) => a + b, 0)
        const elapsed = (Date.now() - t0) / 1000
        ctx.progress({
          fraction: Math.min(1, done / totalEpochs),
          phase: `${unit} epoch ${r.epoch}`,
          etaSeconds: done > 0 ? (elapsed / done) * (totalEpochs - done) : null,
          metrics: { epoch: r.epoch, val_loss: r.val.loss, [`val_${settings.metric}`]: r.val[settings.metric] }
        })
      },
      onUnitEnd: (u) => {
        const unit = plan.units.find((x) => x.id === u.unit)!
        if (u.result.status === 'diverged') ctx.log('error', `${u.unit}: ${u.result.reason}`)
        for (const spec of unit.members) {
          const got = u.members.find((m) => m.id === spec.id)
          if (!got) {
            ctx.store.runs.updateMember(storeId(spec.id), {
              status: u.result.status === 'cancelled' ? 'cancelled' : 'failed'
            })
            continue
          }
          const parent = spec.epoch > 0 ? unit.members[unit.members.indexOf(spec) - 1] : undefined
          const parentEpochs = parent
            ? (u.members.find((m) => m.id === parent.id)?.epochsTrained ?? 0)
            : spec.epochsBefore === 'base'
              ? got.epochsTrained - got.epoch
              : 0
          recordCheckpoint(ctx.store, ctx.workspace, ctx.workspace.toRelative(join(runDir, got.checkpoint))) // its SHA-256, checked before use
          ctx.store.runs.updateMember(storeId(spec.id), {
            status: 'done',
            checkpointPath: ctx.workspace.toRelative(join(runDir, got.checkpoint)),
            epochs: got.epochsTrained - parentEpochs,
            wallSeconds: got.seconds,
            backend: info.backend,
            valScore: Number.isFinite(got.val[settings.metric]) ? got.val[settings.metric] : null
          })
        }
      }
    } satisfies Parameters<typeof runPlan>[1]
    let slurmTasks: Json = null
    let startEpochs: number | null = null
    let outcome: Awaited<ReturnType<typeof runPlan>>
    try {
      if (slurmOptions) {
        const { runPlanOnSlurm } = await import('../slurm')
        const sOut = await runPlanOnSlurm(setup, {
          ...hooks,
          options: slurmOptions,
          backend: info.backend,
          native: info.native?.loaded === true,
          name: `ff-${runId}`,
          preludeRunner: runUnit,
          state: {
            get: () => (ctx.state.get() as { slurm?: SlurmState } | null)?.slurm ?? null,
            set: (s) => ctx.state.set({ runId: runId as string, slurm: s })
          },
          log: (level, message) => ctx.log(level, message),
          onQueue: (summary, done) => {
            startEpochs ??= done
            const elapsed = (Date.now() - t0) / 1000
            const fresh = done - startEpochs
            ctx.progress({
              fraction: Math.min(1, done / totalEpochs),
              phase: summary || 'waiting for Slurm',
              etaSeconds: fresh > 0 ? (elapsed / fresh) * (totalEpochs - done) : null
            })
          }
        })
        outcome = sOut
        slurmTasks = JSON.parse(JSON.stringify({ tasks: sOut.tasks, submissions: sOut.submissions })) as Json
        const failed = sOut.tasks.filter((t) => t.status === 'failed')
        for (const sk of sOut.skipped) {
          for (const m of plan.units.find((u) => u.id === sk.unit)?.members ?? [])
            ctx.store.runs.updateMember(storeId(m.id), {
              status: outcome.status === 'cancelled' ? 'cancelled' : 'failed'
            })
        }
        if (failed.length > 0 && outcome.status !== 'cancelled') {
          ctx.store.runs.setStatus(runId, 'failed')
          throw new Error(
            `${failed.length} Slurm array task(s) did not finish: ${failed.map((t) => `task ${t.index} (${t.units.join(' → ')}): ${t.reason}`).join('; ')}; \`job resume\` resubmits only those, each from its last checkpoint`
          )
        }
      } else {
        outcome = await runPlan(setup, { ...hooks, concurrency: workers, runUnit })
      }
    } finally {
      runUnit.close() // the idle workers (reused across units) end with the plan
    }
    ctx.store.runs.setStatus(
      runId,
      outcome.status === 'done' ? 'done' : outcome.status === 'cancelled' ? 'cancelled' : 'failed'
    )
    for (const s of outcome.skipped) ctx.log('warn', `${s.unit} not run: ${s.reason}`)
    const members: FissionMember[] = outcome.members.map((m) => ({
      id: storeId(m.id),
      group: m.group,
      lr: m.lr,
      seed: m.seed,
      aug: m.aug,
      epoch: m.epoch,
      epochsTrained: m.epochsTrained,
      seconds: m.seconds,
      val: { ...metricsOf(m.val), loss: m.val.loss }
    }))
    return JSON.parse(
      JSON.stringify({
        run: {
          id: runId,
          plan: p.plan,
          datasetId: p.datasetId,
          arch: p.arch,
          from: p.from,
          backend: info.backend,
          workers,
          executor: p.executor,
          slurm: slurmTasks,
          status: outcome.status,
          seconds: (Date.now() - t0) / 1000,
          metric: settings.metric,
          settings,
          units: outcome.units.map((u) => ({
            id: u.unit,
            status: u.result.status,
            reason: u.result.reason ?? null,
            epochs: u.result.epochsTrained,
            peakRssMiB: u.peakRssMiB ?? null,
            microBatch: u.microBatch ?? null,
            microBatches: u.microBatches ?? null
          })),
          memory: {
            ...memory.report,
            peakRssMiB: {
              job: Math.round(peakRss() / MiB),
              units: Object.fromEntries(outcome.units.map((u) => [u.unit, u.peakRssMiB ?? null]))
            }
          }
        },
        members
      })
    ) as FissionResult
  }
})
