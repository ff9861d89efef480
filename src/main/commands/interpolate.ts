/**
 * `interpolate --a ID --b ID`: linear mode connectivity between two models (the 'interpolate'
 * job: progress, Ctrl-C cancel, `job resume`). Prints loss and every metric per λ and the
 * barrier; --json prints `{ points: [{ lambda, loss, metrics }], barrier, ... }`.
 */
import type { JobRecord } from '../../shared/records'
import type { CliCommand } from './types'
import type { InterpolateResult } from '../../shared/job-results'

type Result = InterpolateResult

const f4 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(4)

function range(v: string): [number, number] {
  const parts = v.split(',').map((s) => Number(s.trim()))
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x)) || parts[1] <= parts[0])
    throw new Error(`--range: expected two numbers lo,hi with lo < hi, got '${v}'`)
  return parts as [number, number]
}

export const interpolateCommand: CliCommand = {
  command: 'interpolate',
  description: 'Linear mode connectivity: loss and metrics along (1−λ)·A + λ·B, and the loss barrier.',
  options: [
    { flags: '--a <id>', description: 'model A: member or soup id (required)' },
    { flags: '--b <id>', description: 'model B: member or soup id (required)' },
    { flags: '--steps <n>', description: 'points along the path, ends included (default 11)', parse: Number },
    { flags: '--range <lo,hi>', description: 'λ range (default 0,1)', parse: range },
    { flags: '--split <name>', description: 'train, val (default) or test' },
    {
      flags: '--bn-batches <n>',
      description:
        're-estimate BatchNorm statistics at every point on n training batches (default 0: interpolate them)',
      parse: Number
    }
  ],
  async run(ctx, _args, o) {
    if (!o.a || !o.b) throw new Error('interpolate: --a <id> and --b <id> are required')
    const params = Object.fromEntries(
      Object.entries({
        a: o.a,
        b: o.b,
        steps: o.steps,
        range: o.range,
        split: o.split,
        bnBatches: o.bnBatches
      }).filter(([, v]) => v !== undefined)
    )
    const job: JobRecord = await ctx.runJob('interpolate', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(
        `interpolate job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ` (resume: fissionfusion job resume ${job.id})` : ''}`
      )
    }
    return job.result
  },
  print(result, out) {
    const r = result as Result
    out(
      `${r.a} → ${r.b} on ${r.split}${r.bnBatches ? ` (BatchNorm statistics re-estimated on ${r.bnBatches} training batches)` : ''}`
    )
    const metrics = Object.keys(r.points[0]?.metrics ?? {})
    out(
      ['λ', 'loss', ...metrics]
        .map((h) => h.padEnd(8))
        .join(' ')
        .trimEnd()
    )
    for (const p of r.points)
      out(
        [p.lambda.toFixed(3), f4(p.loss), ...metrics.map((m) => f4(p.metrics[m]))]
          .map((c) => c.padEnd(8))
          .join(' ')
          .trimEnd()
      )
    out(
      `barrier: ${f4(r.barrier)} (at λ = ${r.barrierLambda.toFixed(3)}; loss above the straight line between the end losses)`
    )
  }
}
