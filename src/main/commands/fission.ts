/**
 * `fission --dataset ID --plan grid|fgg|pretrain ...`: trains a run's members (runs the 'fission'
 * job: progress, Ctrl-C cancel, resume with `job resume`). Prints the run id and, per member,
 * its hyperparameters, group and validation metrics; --json prints
 * `{ run: { id, plan, ... }, members: [{ id, group, lr, seed, aug, epoch, epochsTrained, seconds, val }] }`.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { ARCHITECTURE_IDS, AUGMENT_PRESET_IDS, GRID_AUGMENT_IDS, METRIC_IDS, PLAN_KINDS } from '../../shared/vocabulary'
import { slurmCliOptions, slurmParamsOf } from './slurm'
import { intFlag, intOption, listOf, memorySize, oneOf, orList, positive, table, type CliCommand } from './types'
import type { FissionResult } from '../../shared/job-results'

const AUGS: readonly string[] = AUGMENT_PRESET_IDS
const METRICS: readonly string[] = METRIC_IDS

type Result = FissionResult

const f3 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(3)

/** `--executor slurm --dry-run`: the batch script and array size of the plan; nothing is created or submitted. */
async function slurmDryRun(
  workspaceDir: string,
  params: Record<string, unknown>
): Promise<{ script: string; tasks: number }> {
  const { fissionParams, fissionPlanOf } = await import('../host/jobs/fission')
  const { mergeSlurm, readSlurmDefaults, slurmPreview } = await import('../host/slurm')
  const p = fissionParams.parse(params)
  const { plan } = await fissionPlanOf(p)
  const preview = await slurmPreview({
    plan,
    runDir: join(workspaceDir, 'runs', '<run id>'),
    name: 'ff-<run id>',
    options: mergeSlurm(readSlurmDefaults(workspaceDir), p.slurm)
  })
  return { script: preview.script, tasks: preview.tasks }
}

export const fissionCommand: CliCommand = {
  command: 'fission',
  description: 'Fission: train members by grid search, Fast Geometric Generation or pretraining (resumable).',
  options: [
    { flags: '--dataset <id>', description: 'dataset id or name (required)' },
    { flags: '--plan <kind>', description: `${orList(PLAN_KINDS)} (required)`, parse: oneOf('--plan', PLAN_KINDS) },
    {
      flags: '--arch <name>',
      description: `${orList(ARCHITECTURE_IDS)} (default smallcnn); an imported network (--from pt-…) sets its own`
    },
    {
      flags: '--width <x>',
      description: 'channel-width multiplier of smallcnn / mobilenetv2 (default 1)',
      parse: positive('--width')
    },
    {
      flags: '--from <model>',
      description:
        'random (default), a member or soup id, an imported network (pt-…, see: models), or a checkpoint / TF.js model.json path'
    },
    intFlag('--lp-epochs <n>', 'linear-probe epochs before the members (default 0)'),
    intFlag('--epochs <n>', 'epochs of a grid member / FGG base / pretraining (default 50; pretrain 4)', 1),
    {
      flags: '--lrs <list>',
      description: "learning rates, e.g. 1e-3,1e-4 (default METHOD.md's 8)",
      parse: listOf('--lrs', positive('--lrs'))
    },
    {
      flags: '--seeds <list>',
      description: 'grid seeds (default 0,1)',
      parse: listOf('--seeds', (s) => intOption('--seeds')(s))
    },
    {
      flags: '--augs <list>',
      description: `grid augmentations: ${GRID_AUGMENT_IDS.join(',')} (default all three)`,
      parse: listOf('--augs', oneOf('--augs', AUGS))
    },
    intFlag('--fgg-epochs <n>', 'FGG cyclic-phase epochs (default 17)', 1),
    intFlag('--cycle <n>', 'FGG cycle length in epochs, even (default 4)', 2),
    intFlag('--batch-size <n>', 'images per batch (default 128)', 2),
    {
      flags: '--metric <id>',
      description: `selection metric: ${orList(METRIC_IDS)} (default acc)`,
      parse: oneOf('--metric', METRICS)
    },
    intFlag('--workers <n>', 'engine processes at once (default: one per core; 1 on a GPU)', 1),
    {
      flags: '--memory-limit <size>',
      description:
        "peak memory per engine process, MiB or e.g. 3.5GiB (default: 75% of the machine's memory / workers, at most 4 GiB); larger batches train in micro-batches",
      parse: memorySize('--memory-limit')
    },
    { flags: '--name <text>', description: 'run name' },
    ...slurmCliOptions
  ],
  async run(ctx, _args, o) {
    if (!o.dataset) throw new Error('fission: --dataset <id> is required')
    if (!o.plan) throw new Error('fission: --plan grid|fgg|pretrain is required')
    const store = ctx.app().store
    const wanted = String(o.dataset)
    const dataset = store.datasets.get(wanted) ?? store.datasets.list().find((d) => d.name === wanted)
    if (!dataset) throw new Error(`--dataset ${wanted}: no dataset with that id or name (see: fissionfusion datasets)`)
    // A path is resolved here, against the user's current folder, not the engine process's.
    const from = typeof o.from === 'string' && o.from !== 'random' && existsSync(o.from) ? resolve(o.from) : o.from
    const params = Object.fromEntries(
      Object.entries({
        datasetId: dataset.id,
        plan: o.plan,
        arch: o.arch,
        width: o.width,
        from,
        lpEpochs: o.lpEpochs,
        epochs: o.epochs,
        lrs: o.lrs,
        seeds: o.seeds,
        augs: o.augs,
        fggEpochs: o.fggEpochs,
        cycle: o.cycle,
        batchSize: o.batchSize,
        metric: o.metric,
        workers: o.workers,
        name: o.name,
        executor: o.executor,
        slurm: slurmParamsOf(o),
        memoryLimitMiB: o.memoryLimit
      }).filter(([, v]) => v !== undefined)
    )
    if (o.dryRun) return slurmDryRun(ctx.app().workspace.dir, params)
    const job: JobRecord = await ctx.runJob('fission', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(
        `fission job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ` (resume: fissionfusion job resume ${job.id})` : ''}`
      )
    }
    return job.result
  },
  print(result, out) {
    if (typeof (result as { script?: unknown }).script === 'string') {
      const d = result as { script: string; tasks: number }
      out(d.script.trimEnd())
      out(`# dry run: ${d.tasks} array task(s); nothing submitted`)
      return
    }
    const r = result as Result
    const where = r.run.slurm
      ? `Slurm job array ${r.run.slurm.submissions.map((x) => x.jobId).join(', ') || '(nothing submitted)'} (${r.run.slurm.tasks.length} tasks) on ${r.run.backend}`
      : `backend ${r.run.backend} × ${r.run.workers}`
    out(
      `run ${r.run.id}: ${r.run.plan}, ${r.members.length} members, ${r.run.status}, ${where}, ${r.run.seconds.toFixed(0)} s`
    )
    for (const u of r.run.units.filter((x) => x.reason)) out(`  ${u.id}: ${u.status}: ${u.reason}`)
    const m = r.run.memory
    if (m) {
      const peaks = Object.values(m.peakRssMiB.units).filter((v): v is number => v !== null)
      out(
        `peak memory per engine process: ${peaks.length ? `${Math.max(...peaks)} MiB (workers)` : 'no unit ran'}, ${m.peakRssMiB.job} MiB (job); expected ${m.expectedPeakMiB} MiB, limit ${m.limitMiB} MiB`
      )
    }
    const rows = r.members.map((m) => ({
      member: m.id,
      group: m.group,
      lr: m.lr,
      seed: m.seed,
      aug: m.aug,
      epoch: m.epoch,
      epochs: m.epochsTrained,
      s: m.seconds.toFixed(0),
      'val loss': f3(m.val.loss),
      ...Object.fromEntries(METRIC_IDS.map((k) => [k, f3(m.val[k])]))
    }))
    for (const line of table(rows, [
      'member',
      'group',
      'lr',
      'seed',
      'aug',
      'epoch',
      'epochs',
      's',
      'val loss',
      ...METRIC_IDS
    ]))
      out(line)
  }
}
