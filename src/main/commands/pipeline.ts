/**
 * `pipeline --data PATH [import flags] [plan flags]`: the whole method on the user's data (runs the
 * 'pipeline' job: import, shared start, grid + FGG, every fusion method, OOD and corruptions,
 * ONNX export). Running the same command again resumes the same job after a crash or Ctrl-C
 * (finished datasets, members and soups are kept), or reprints its result once it has finished.
 * Also the runner and printer of `demo`.
 */
import { existsSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { pipelineParams } from '../host/jobs/pipeline'
import { resultOf, type PipelineResult } from '../../shared/job-results'
import { DEFAULT_PRESET } from '../engine/demo/presets'
import { ARCHITECTURE_IDS, AUGMENT_PRESET_IDS, GRID_AUGMENT_IDS, METRIC_IDS } from '../../shared/vocabulary'
import { slurmCliOptions, slurmParamsOf } from './slurm'
import {
  intFlag,
  intOption,
  listOf,
  memorySize,
  oneOf,
  orList,
  positive,
  table,
  type CliContext,
  type CliCommand,
  type CliOption
} from './types'

/** JSON with object keys sorted, so equal settings give equal text whatever the key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(v)
}

/**
 * Runs the pipeline job for `params` in the workspace: resumes the latest job with the same
 * settings when it failed or was cancelled, returns its result when it completed, else starts one.
 */
export async function runPipeline(ctx: CliContext, params: Record<string, unknown>): Promise<PipelineRun> {
  const parsed = pipelineParams.parse(params)
  const key = canonical(parsed)
  const store = ctx.app().store
  const previous = store.jobs.list({ limit: 1000 }).find((j) => j.kind === 'pipeline' && canonical(j.params) === key)
  let job: JobRecord
  if (previous?.status === 'completed') {
    ctx.log(
      `pipeline job ${previous.id} with these settings has already completed; showing its result (nothing is redone)`
    )
    job = previous
  } else if (previous && (previous.status === 'failed' || previous.status === 'cancelled') && previous.resumable) {
    ctx.log(
      `resuming pipeline job ${previous.id} (attempt ${previous.attempt + 1}): finished stages, members and soups are kept`
    )
    job = await ctx.runJob('pipeline', parsed, { resumeId: previous.id })
  } else if (previous && (previous.status === 'running' || previous.status === 'queued')) {
    throw new Error(
      `pipeline job ${previous.id} with these settings is ${previous.status} in another process; wait for it or cancel it (fissionfusion job cancel ${previous.id})`
    )
  } else {
    job = await ctx.runJob('pipeline', parsed)
  }
  if (job.status !== 'completed') {
    process.exitCode = 1
    throw new Error(
      `pipeline job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ' (run the same command again to resume)' : ''}`
    )
  }
  const result = resultOf(job, 'pipeline')
  if (!result) throw new Error(`pipeline job ${job.id} completed without a result`)
  return { jobId: job.id, workspace: ctx.workspaceDir(), ...result }
}

/** What the pipeline commands answer: the pipeline job's result, with the job and its workspace. */
export type PipelineRun = PipelineResult & { jobId: string; workspace: string }

/** What `pipeline` / `demo` print: the job's result, with the job and workspace. */
type Report = PipelineResult & { jobId: string; workspace: string }

const f3 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(3)
const withCi = (m: { value: number | null; ci: [number | null, number | null] } | undefined): string =>
  m ? `${f3(m.value)} [${f3(m.ci[0])}, ${f3(m.ci[1])}]` : '—'

/** Prints a pipeline report: backend, members, methods with 95% CIs and compute, the soup tree, the export. */
export function printPipeline(result: unknown, out: (line: string) => void): void {
  const r = result as Report
  out(`backend: ${r.engine ?? r.backend}`)
  if (r.backendWarning) out(`warning: ${r.backendWarning}`)
  out(
    `workspace: ${r.workspace} (pipeline job ${r.jobId}, ${r.seconds.toFixed(0)} s of work: ${Object.entries(r.stages)
      .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
      .join(', ')})`
  )
  out('')
  out(`members (${r.members.length}; val = validation ${r.metric}):`)
  const members = r.members.map((m) => ({
    plan: m.plan,
    member: m.name,
    group: m.group,
    lr: m.lr,
    seed: m.seed,
    aug: m.aug,
    epoch: m.epoch,
    epochs: m.epochs,
    'time s': m.seconds.toFixed(1),
    val: f3(m.val)
  }))
  for (const l of table(members, ['plan', 'member', 'group', 'lr', 'seed', 'aug', 'epoch', 'epochs', 'time s', 'val']))
    out(`  ${l}`)
  out('')
  const c = r.compute
  out(
    `compute: grid ${c.gridEpochs} epochs, FGG ${c.fggEpochs} epochs (${(100 * c.fggToGrid).toFixed(1)}% of the grid's), shared start ${c.pretrainEpochs} epochs`
  )
  out(
    `methods (val = validation ${r.metric}; test and OOD with bootstrap 95% CIs; corrupt. = mean ${r.metric} over the corruption suite):`
  )
  const metrics = Object.keys(r.methods[0]?.test ?? {}).filter((k) => k !== 'loss')
  const oodIds = Object.keys(r.methods[0]?.ood ?? {})
  const rows = r.methods.map((m) => ({
    plan: m.plan,
    method: m.method,
    val: f3(m.val),
    ...Object.fromEntries(metrics.map((k) => [`test ${k}`, withCi(m.test[k])])),
    ...Object.fromEntries(
      oodIds.map((id, i) => [`OOD${oodIds.length > 1 ? i + 1 : ''} ${r.metric}`, withCi(m.ood[id]?.metrics[r.metric])])
    ),
    'corrupt.': f3(m.corruptionMean),
    epochs: m.epochs,
    'time s': m.seconds.toFixed(1)
  }))
  for (const l of table(rows, Object.keys(rows[0] ?? { method: '' }))) out(`  ${l}`)
  for (const l of fusionLines(r)) out(l)
  out('')
  out(
    `exported soup: ${r.best.method} of the ${r.best.plan} run (best validation ${r.metric} ${f3(r.best.val)} among the soups); its tree:`
  )
  for (const l of r.treeText) out(`  ${l}`)
  out('')
  const rel = (f: string): string => (relative(process.cwd(), f).startsWith('..') ? f : relative(process.cwd(), f) || f)
  out(`exported: ${rel(r.export.file)}`)
  for (const f of r.export.files.filter((x) => x !== r.export.file)) out(`          ${rel(f)}`)
}

/** What the corruption suite ran on and each run's fusion time against its training, for the printed report. */
export function fusionLines(r: Pick<PipelineResult, 'fusion'>): string[] {
  const lines: string[] = []
  const runs = Object.entries(r.fusion ?? {})
  const suites = runs.map(([plan, f]) => [plan, f.corruptionSuite] as const).filter(([, s]) => s)
  for (const [plan, s] of suites) {
    lines.push(
      `  corrupt. (${plan}): on ${s!.images === s!.of ? 'all' : s!.images} of ${s!.of} test images${s!.images < s!.of ? ` (a subset drawn with seed ${s!.seed}; --corruption-images 0 for all)` : ''}${s!.ensemble ? '' : '; the ensemble is not run on it (--corruption-ensemble)'}`
    )
  }
  for (const [plan, f] of runs) {
    const parts = f.parts
      ? Object.entries(f.parts)
          .filter(([k, v]) => k !== 'total' && v >= 0.05)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', ')
      : ''
    lines.push(
      `  fusion of the ${plan} run: ${f.fuseSeconds.toFixed(0)} s = ${f.ratio === null ? '—' : `${(100 * f.ratio).toFixed(1)}%`} of its training (${f.trainingSeconds.toFixed(0)} s)${parts ? `; ${parts}` : ''}`
    )
  }
  return lines
}

/** Plan flags shared by `demo` and `pipeline`. */
export const planOptions: CliOption[] = [
  { flags: '--arch <name>', description: `${orList(ARCHITECTURE_IDS)} (default smallcnn)` },
  {
    flags: '--width <x>',
    description: 'channel-width multiplier of smallcnn / mobilenetv2 (default 1)',
    parse: positive('--width')
  },
  intFlag('--pretrain-epochs <n>', 'epochs of the shared starting point (0: start from random weights)'),
  intFlag('--lp-epochs <n>', 'linear-probe epochs before the members'),
  {
    flags: '--lrs <list>',
    description: 'learning rates of the grid and FGG bases',
    parse: listOf('--lrs', positive('--lrs'))
  },
  { flags: '--seeds <list>', description: 'grid seeds', parse: listOf('--seeds', intOption('--seeds')) },
  {
    flags: '--augs <list>',
    description: `grid augmentations (${GRID_AUGMENT_IDS.join(',')})`,
    parse: listOf('--augs', oneOf('--augs', AUGMENT_PRESET_IDS))
  },
  intFlag('--epochs <n>', 'epochs of a grid member / FGG base', 1),
  intFlag('--fgg-epochs <n>', 'FGG cyclic-phase epochs', 1),
  intFlag('--cycle <n>', 'FGG cycle length, epochs (even)', 2),
  intFlag('--batch-size <n>', 'images per batch', 2),
  { flags: '--metric <id>', description: `selection metric: ${orList(METRIC_IDS)}` },
  intFlag('--workers <n>', 'training processes at once (default: one per core)', 1),
  {
    flags: '--memory-limit <size>',
    description:
      "peak memory per engine process, MiB or e.g. 3.5GiB (default: 75% of the machine's memory / workers, at most 4 GiB)",
    parse: memorySize('--memory-limit')
  },
  intFlag('--resamples <n>', 'bootstrap resamples of the CIs (default 1000)', 100),
  { flags: '--no-corruptions', description: 'skip the corruption suite' },
  intFlag(
    '--corruption-images <n>',
    'corruption suite on at most n test images, a seeded subset (0: all; default 32 in pipeline, all in demo)'
  ),
  {
    flags: '--corruption-ensemble',
    description:
      'also run the ensemble baseline (every member) on the corruption suite (default: pipeline no, demo yes)'
  }
]

/** The plan params given on the command line (undefined ones are left out). */
export function planParams(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({
      arch: o.arch,
      width: o.width,
      pretrainEpochs: o.pretrainEpochs,
      lpEpochs: o.lpEpochs,
      lrs: o.lrs,
      seeds: o.seeds,
      augs: o.augs,
      epochs: o.epochs,
      fggEpochs: o.fggEpochs,
      cycle: o.cycle,
      batchSize: o.batchSize,
      metric: o.metric,
      workers: o.workers,
      resamples: o.resamples,
      memoryLimitMiB: o.memoryLimit,
      corruptions: o.corruptions === false ? false : undefined,
      corruptionImages: o.corruptionImages,
      corruptionEnsemble: o.corruptionEnsemble === true ? true : undefined
    }).filter(([, v]) => v !== undefined)
  )
}

export const pipelineCommand = {
  command: 'pipeline',
  description:
    'The whole method on your data: import, shared start, grid + FGG, every soup, OOD + corruptions, ONNX export (rerun to resume).',
  options: [
    {
      flags: '--data <path>',
      description: 'dataset file or folder (npz, idx, image folder, CSV + images, DICOM) (required)'
    },
    { flags: '--csv <file>', description: 'CSV manifest naming the images under --data' },
    { flags: '--format <name>', description: 'auto (default), npz, idx, folder, csv or dicom' },
    { flags: '--name <text>', description: 'dataset name' },
    intFlag('--size <px>', 'square image side in pixels', 8),
    { flags: '--split <a/b/c>', description: 'train/val/test split when the data has none, e.g. 70/10/20' },
    {
      flags: '--ood <paths>',
      description: 'comma list of out-of-distribution datasets with the same classes',
      parse: listOf('--ood', (s) => s)
    },
    ...planOptions,
    ...slurmCliOptions.filter((x) => x.flags !== '--dry-run')
  ],
  async run(ctx, _args, o) {
    if (!o.data) throw new Error('pipeline: --data <path> is required')
    const slurm = slurmParamsOf(o)
    const abs = (p: string, flag: string): string => {
      const a = resolve(p)
      if (!existsSync(a)) throw new Error(`${flag} ${p}: no such file or folder`)
      return a
    }
    const spec = (input: string) =>
      Object.fromEntries(
        Object.entries({
          input,
          csv: o.csv ? abs(String(o.csv), '--csv') : undefined,
          format: o.format,
          size: o.size,
          split: o.split
        }).filter(([, v]) => v !== undefined)
      )
    const source = { ...spec(abs(String(o.data), '--data')), ...(o.name ? { name: o.name } : {}) }
    const ood = ((o.ood as string[] | undefined) ?? []).map((p) => ({
      input: abs(p, '--ood'),
      format: 'auto',
      size: o.size
    }))
    const { counts: _c, oodCounts: _o, size: _z, seed: _s, resamples: _r, width: _w, ...scale } = DEFAULT_PRESET
    return runPipeline(ctx, {
      data: {
        kind: 'import',
        source,
        ood: ood.map((x) => Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined)))
      },
      ...scale,
      ...planParams(o),
      ...(slurm ? { executor: 'slurm', slurm } : {})
    })
  },
  print: printPipeline
} satisfies CliCommand
