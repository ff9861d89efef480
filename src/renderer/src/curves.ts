/** Turns per-epoch metric records into chart series (pure). */
import type { MemberRecord, MetricRecord } from '../../shared/api'
import type { LineSeries } from './chart-options'

/** Metric names by chart: loss curves, the learning rate, quality metrics, or bookkeeping (not drawn). */
export function metricKind(name: string): 'loss' | 'lr' | 'metric' | 'other' {
  if (name === 'lr' || name.endsWith('_lr')) return 'lr'
  if (name.includes('loss')) return 'loss'
  if (name === 'seconds' || name === 'epoch' || name.endsWith('_seconds')) return 'other'
  return 'metric'
}

/**
 * One series per (member, metric) of the given kind, points ordered by epoch.
 * Series are named "member · metric" when several members are shown, else just the metric;
 * `only` keeps just the named metrics.
 */
export function seriesOf(
  members: MemberRecord[],
  metrics: Record<string, MetricRecord[]>,
  kind: 'loss' | 'lr' | 'metric',
  only?: string[]
): LineSeries[] {
  const out: LineSeries[] = []
  for (const m of members) {
    const byName = new Map<string, [number, number][]>()
    for (const r of metrics[m.id] ?? []) {
      if (metricKind(r.name) !== kind || !Number.isFinite(r.value) || (only && !only.includes(r.name))) continue
      const list = byName.get(r.name) ?? []
      list.push([r.epoch, r.value])
      byName.set(r.name, list)
    }
    for (const [name, points] of byName) {
      points.sort((a, b) => a[0] - b[0])
      out.push({ name: members.length > 1 ? `${m.name} · ${name}` : name, points })
    }
  }
  return out
}
