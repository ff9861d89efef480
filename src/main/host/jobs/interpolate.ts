/**
 * 'interpolate': linear mode connectivity between two models (engine/fusion/lmc.ts): loss and
 * every metric along θ(λ) = (1 − λ)·θA + λ·θB on a split of A's dataset, and the barrier.
 * Resumable: the points scored so far are kept in the job state.
 */
import type { Json } from '../../../shared/records'
import type { LmcPoint } from '../../engine/fusion/lmc'
import { resolveModel } from './model-ids'
import { interpolateParams } from '../../../shared/jobs'
import type { InterpolateResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { interpolateParams }

interface InterpolateState {
  [key: string]: Json
  /** Points scored so far (as JSON: an undefined loss or metric, NaN, is stored as null). */
  points: LmcPoint[]
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null)

export const interpolateJob = defineJob<'interpolate', InterpolateState>({
  kind: 'interpolate',
  description:
    'Linear mode connectivity: loss and metrics along the straight line between two models, and the barrier.',
  params: interpolateParams,
  links: (p) => ({ runId: p.runId ?? null }),
  async run(ctx, p) {
    const { initBackend } = await import('../../engine/compute')
    const { interpolate } = await import('../../engine/fusion/lmc')
    const a = resolveModel(ctx.store, ctx.workspace, p.a, 'a')
    const b = resolveModel(ctx.store, ctx.workspace, p.b, 'b')
    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    ctx.log(
      'info',
      `interpolating ${a.id} → ${b.id} on the ${p.split} split of ${a.datasetId}, ${p.steps} points in [${p.range.join(', ')}] on ${info.backend}${p.bnBatches ? `; BatchNorm statistics re-estimated at every point on ${p.bnBatches} training batches` : ''}`
    )
    const state = ctx.state.get() ?? { points: [] }
    const r = await interpolate({
      a: a.dir,
      b: b.dir,
      datasetDir: ctx.workspace.datasetDir(a.datasetId),
      steps: p.steps,
      range: p.range as [number, number],
      split: p.split,
      bnBatches: p.bnBatches,
      signal: ctx.signal,
      done: state.points,
      onPoint: (pt, done, total) => {
        if (!state.points.some((q) => q.lambda === pt.lambda)) {
          state.points.push(JSON.parse(JSON.stringify(pt)) as LmcPoint)
          ctx.state.set(state)
        }
        ctx.progress({
          fraction: done / total,
          phase: `λ = ${pt.lambda.toFixed(3)}: loss ${pt.loss.toFixed(4)}`,
          etaSeconds: null
        })
      }
    })
    return {
      a: a.id,
      b: b.id,
      datasetId: a.datasetId,
      split: p.split,
      bnBatches: p.bnBatches,
      backend: info.backend,
      points: r.points.map((pt) => ({
        lambda: pt.lambda,
        loss: finite(pt.loss),
        metrics: Object.fromEntries(Object.entries(pt.metrics).map(([k, v]) => [k, finite(v)]))
      })),
      barrier: finite(r.barrier),
      barrierLambda: r.barrierLambda
    } satisfies InterpolateResult
  }
})
