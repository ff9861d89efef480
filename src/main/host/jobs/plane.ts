/**
 * 'plane': the loss surface on the plane through three models (engine/fusion/plane.ts), with the
 * soups of A's run projected onto it. Resumable: grid points scored so far are kept in the job
 * state (by grid index) and not scored again.
 */
import type { Json } from '../../../shared/records'
import type { PlanePoint } from '../../engine/fusion/plane'
import { resolveModel } from './model-ids'
import { planeParams } from '../../../shared/jobs'
import type { PlaneResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { planeParams }

interface PlaneState {
  [key: string]: Json
  /** Grid index → scored point (as JSON: an undefined loss or metric, NaN, is stored as null). */
  done: Record<string, PlanePoint>
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null)
const metrics = (m: Record<string, number>): Record<string, number | null> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, finite(v)]))

export const planeJob = defineJob<'plane', PlaneState>({
  kind: 'plane',
  description: "Loss surface on the plane through three models, with the run's soups projected onto it.",
  params: planeParams,
  links: (p) => ({ runId: p.runId ?? null }),
  async run(ctx, p) {
    const { initBackend } = await import('../../engine/compute')
    const { lossPlane } = await import('../../engine/fusion/plane')
    const models = p.models.map((m, i) => resolveModel(ctx.store, ctx.workspace, m, `models[${i}]`))
    if (new Set(p.models).size < 3) throw new Error('models: choose three different models')
    const runId = models[0].runId
    const soups = ctx.store.soups
      .list(runId)
      .filter((s) => s.checkpointPath && !p.models.includes(s.id))
      .map((s) => ({ id: s.id, dir: ctx.workspace.resolve(s.checkpointPath!), method: s.method }))
    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    ctx.log(
      'info',
      `loss plane through ${p.models.join(', ')}: ${p.grid}×${p.grid} points on the ${p.split} split of ${models[0].datasetId} on ${info.backend}; ${soups.length} soup(s) of ${runId} projected`
    )
    const state: PlaneState = ctx.state.get() ?? { done: {} }
    const kept = Object.keys(state.done).length
    if (kept > 0) ctx.log('info', `resuming: ${kept} grid points already scored`)
    const t0 = Date.now()
    let scoredNow = 0
    // the points scored are saved every 5 and whatever stops the job (cancel, error)
    const r = await lossPlane({
      models: models.map((m) => ({ id: m.id, dir: m.dir })),
      datasetDir: ctx.workspace.datasetDir(models[0].datasetId),
      grid: p.grid,
      margin: p.margin,
      split: p.split,
      bnBatches: p.bnBatches,
      soups,
      signal: ctx.signal,
      done: state.done,
      onPoint: (index, pt, done, total) => {
        if (!(String(index) in state.done)) {
          state.done[String(index)] = JSON.parse(JSON.stringify(pt)) as PlanePoint
          scoredNow++
          if (scoredNow % 5 === 0 || done === total) ctx.state.set(state)
        }
        const elapsed = (Date.now() - t0) / 1000
        ctx.progress({
          fraction: done / total,
          phase: `grid point ${done} of ${total}`,
          etaSeconds: scoredNow > 0 ? (elapsed / scoredNow) * (total - done) : null
        })
      }
    }).finally(() => ctx.state.set(state))
    return {
      datasetId: models[0].datasetId,
      runId,
      split: p.split,
      backend: info.backend,
      gridSize: p.grid,
      margin: p.margin,
      models: r.models.map((m) => ({ id: m.id, x: m.x, y: m.y, loss: finite(m.loss), metrics: metrics(m.metrics) })),
      xs: r.xs,
      ys: r.ys,
      grid: r.grid.map((g) => ({ x: g.x, y: g.y, loss: finite(g.loss), metrics: metrics(g.metrics) })),
      soups: r.soups.map((s) => ({ id: s.id, method: s.method, x: s.x, y: s.y, distance: s.distance }))
    } satisfies PlaneResult
  }
})
