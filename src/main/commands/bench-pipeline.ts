/**
 * `bench pipeline`: the pipeline on the user's data (or a finished pipeline job, `--job`), reported
 * as the issue's Bar reads it: per run (grid, FGG) the seconds of its training and of its fusion
 * stage with the fuse job's parts, and fusion / training. Runs in the workspace given with
 * -w / FF_WORKSPACE only (it trains and keeps every member there); rerunning the same command
 * reprints the finished job's numbers without redoing anything.
 */
import { resultOf } from '../../shared/job-results'
import { pipelineCommand, type PipelineRun } from './pipeline'
import { positive, table, type CliCommand } from './types'

/** One run's row: its training, its fusion and their ratio. */
export interface BenchPipelineRun {
  plan: string
  members: number
  trainingSeconds: number
  fuseSeconds: number
  ratio: number | null
  /** The fuse job's seconds by part (null for results of older versions). */
  parts: Record<string, number> | null
  corruptionSuite: { images: number; of: number; seed: number; ensemble: boolean } | null
}

/** What `bench pipeline --json` prints. */
export interface BenchPipelineResult {
  jobId: string
  workspace: string
  backend: string
  /** Every stage's seconds, in order. */
  stages: Record<string, number>
  runs: BenchPipelineRun[]
  /** The Bar: each fusion stage at most this share of its run's training. */
  limit: number
  holds: boolean
}

/** The per-run figures of a pipeline result (stage seconds; the fuse parts when the result has them). */
export function pipelineFigures(r: PipelineRun, limit: number): BenchPipelineResult {
  const runs: BenchPipelineRun[] = ['grid', 'fgg'].map((plan) => {
    const trainingSeconds = r.stages[plan] ?? 0
    const fuseSeconds = r.stages[`fuse-${plan}`] ?? 0
    const f = r.fusion?.[plan]
    return {
      plan,
      members: r.members.filter((m) => m.plan === plan).length,
      trainingSeconds,
      fuseSeconds,
      ratio: trainingSeconds > 0 ? fuseSeconds / trainingSeconds : null,
      parts: f?.parts ?? null,
      corruptionSuite: f?.corruptionSuite ?? null
    }
  })
  return {
    jobId: r.jobId,
    workspace: r.workspace,
    backend: r.engine ?? r.backend,
    stages: r.stages,
    runs,
    limit,
    holds: runs.every((x) => x.ratio !== null && x.ratio <= limit)
  }
}

export const benchPipelineCommand = {
  command: 'bench pipeline',
  description:
    'Run the pipeline (or read a finished one, --job) and print per run its training seconds, its fusion seconds by part and fusion / training.',
  options: [
    { flags: '--job <id>', description: 'report this finished pipeline job of the workspace instead of running one' },
    {
      flags: '--limit <ratio>',
      description: 'the Bar: fusion at most this share of the training it fuses (default 0.25)',
      parse: positive('--limit')
    },
    ...(pipelineCommand.options ?? [])
  ],
  async run(ctx, args, o) {
    const limit = (o.limit as number | undefined) ?? 0.25
    if (!ctx.globals.workspace && !process.env.FF_WORKSPACE) {
      throw new Error(
        'bench pipeline trains and keeps every member in its workspace: give one (-w DIR or FF_WORKSPACE), not your default workspace'
      )
    }
    let result: PipelineRun
    if (o.job) {
      const job = ctx.app().store.jobs.get(String(o.job))
      if (!job || job.kind !== 'pipeline')
        throw new Error(`--job ${String(o.job)}: no pipeline job with this id in ${ctx.workspaceDir()}`)
      if (job.status !== 'completed')
        throw new Error(`--job ${job.id}: the pipeline job is ${job.status}, not completed`)
      const r = resultOf(job, 'pipeline')
      if (!r) throw new Error(`--job ${job.id}: the pipeline job has no result`)
      result = { jobId: job.id, workspace: ctx.workspaceDir(), ...r }
    } else {
      result = await pipelineCommand.run(ctx, args, o)
    }
    return pipelineFigures(result, limit)
  },
  print(r: BenchPipelineResult, out: (line: string) => void) {
    out(`pipeline job ${r.jobId} in ${r.workspace} (${r.backend})`)
    out(
      `stages: ${Object.entries(r.stages)
        .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
        .join(', ')}`
    )
    const rows = r.runs.map((x) => ({
      run: x.plan,
      members: x.members,
      'training s': x.trainingSeconds.toFixed(0),
      'fusion s': x.fuseSeconds.toFixed(0),
      'fusion / training': x.ratio === null ? '—' : `${(100 * x.ratio).toFixed(1)}%`,
      [`≤ ${(100 * r.limit).toFixed(0)}%`]: x.ratio !== null && x.ratio <= r.limit ? 'yes' : 'no',
      corruptions: x.corruptionSuite
        ? `${x.corruptionSuite.images} of ${x.corruptionSuite.of} test images${x.corruptionSuite.ensemble ? ', ensemble too' : ', not the ensemble'}`
        : 'not run'
    }))
    for (const l of table(rows, Object.keys(rows[0]))) out(l)
    for (const x of r.runs) {
      if (x.parts)
        out(
          `fusion of ${x.plan}, seconds by part: ${Object.entries(x.parts)
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')}`
        )
    }
    out(
      r.holds
        ? `each fusion stage ≤ ${(100 * r.limit).toFixed(0)}% of its run's training: holds`
        : `each fusion stage ≤ ${(100 * r.limit).toFixed(0)}% of its run's training: does NOT hold`
    )
  }
} satisfies CliCommand
