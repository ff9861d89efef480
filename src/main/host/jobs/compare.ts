/**
 * 'compare': a paired bootstrap of two sets of stored test predictions (engine/evaluate
 * bootstrap.ts), run in an engine process because it can take seconds on large test sets.
 * The `compareMethods` command starts it and answers its result; it is cheap to redo, so it
 * is not resumable.
 */
import { compareParams } from '../../../shared/jobs'
import type { CompareResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { compareParams }

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null)

export const compareJob = defineJob<'compare'>({
  kind: 'compare',
  description: "Paired bootstrap of two models' stored test predictions (difference, 95% CI, p-value).",
  params: compareParams,
  resumable: false,
  async run(ctx, p) {
    const { readFile } = await import('node:fs/promises')
    const { parsePredictionsCsv } = await import('../../engine/evaluate/model')
    const { pairedBootstrap } = await import('../../engine/evaluate/bootstrap')
    const { metricById, predictionCount } = await import('../../engine/evaluate')
    const [a, b] = await Promise.all(
      p.files.map(async (f) => parsePredictionsCsv(await readFile(ctx.workspace.resolve(f), 'utf8')).predictions)
    )
    const t = pairedBootstrap(a, b, metricById(p.metric).compute, { resamples: p.resamples, seed: p.seed })
    return {
      n: predictionCount(a),
      difference: finite(t.difference),
      ci: [finite(t.ci[0]), finite(t.ci[1])],
      p: finite(t.p),
      resamples: t.resamples,
      undefinedResamples: t.undefinedResamples
    } satisfies CompareResult
  }
})
