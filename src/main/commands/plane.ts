/**
 * `plane --models A,B,C`: the loss surface on the plane through three models (the 'plane' job:
 * progress, Ctrl-C cancel, `job resume` keeps the grid points done). Prints the models' and
 * soups' coordinates and a coarse text map of the loss; --json prints
 * `{ models: [{ id, x, y, loss }], grid: [{ x, y, loss, metrics }], soups: [...] }`.
 */
import type { JobRecord } from '../../shared/records'
import type { CliCommand } from './types'
import type { PlaneResult } from '../../shared/job-results'

type Result = PlaneResult

const f4 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(4)

export const planeCommand: CliCommand = {
  command: 'plane',
  description:
    "Loss surface on the plane through three models (members or soups), with the run's soups projected onto it.",
  options: [
    {
      flags: '--models <a,b,c>',
      description: 'three member or soup ids (required)',
      parse: (v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
    },
    { flags: '--grid <n>', description: 'points per axis (default 21)', parse: Number },
    {
      flags: '--margin <f>',
      description: "extra extent on each side, fraction of the models' extent (default 0.2)",
      parse: Number
    },
    { flags: '--split <name>', description: 'train, val (default) or test' },
    {
      flags: '--bn-batches <n>',
      description: 're-estimate BatchNorm statistics at every point on n training batches (default 0: off)',
      parse: Number
    }
  ],
  async run(ctx, _args, o) {
    const models = o.models as string[] | undefined
    if (!models || models.length !== 3) throw new Error('plane: --models <a,b,c> needs exactly three model ids')
    const params = Object.fromEntries(
      Object.entries({
        models,
        grid: o.grid,
        margin: o.margin,
        split: o.split,
        bnBatches: o.bnBatches
      }).filter(([, v]) => v !== undefined)
    )
    const job: JobRecord = await ctx.runJob('plane', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(
        `plane job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ` (resume: fissionfusion job resume ${job.id})` : ''}`
      )
    }
    return job.result
  },
  print(result, out) {
    const r = result as Result
    out(`loss plane on ${r.split}: ${r.gridSize}×${r.gridSize} points`)
    for (const m of r.models) out(`model ${m.id}: (${m.x.toFixed(4)}, ${m.y.toFixed(4)}) loss ${f4(m.loss)}`)
    for (const s of r.soups)
      out(
        `soup ${s.id} (${s.method ?? '?'}): projected at (${s.x.toFixed(4)}, ${s.y.toFixed(4)}), ${s.distance.toFixed(4)} from the plane`
      )
    const losses = r.grid.map((g) => g.loss).filter((v): v is number => v !== null)
    const lo = Math.min(...losses)
    const hi = Math.max(...losses)
    const shades = ' .:-=+*#%@'
    out(`loss map (rows: y high to low; ' ' = ${f4(lo)} … '@' = ${f4(hi)}):`)
    for (let j = r.gridSize - 1; j >= 0; j--) {
      out(
        r.grid
          .slice(j * r.gridSize, (j + 1) * r.gridSize)
          .map((g) =>
            g.loss === null ? '?' : shades[Math.min(9, Math.floor(((g.loss - lo) / Math.max(hi - lo, 1e-12)) * 10))]
          )
          .join('')
      )
    }
  }
}
