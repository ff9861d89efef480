/**
 * Pure ECharts options of the two pictures behind the paper's reasoning: the linear mode
 * connectivity path between two models (loss and a metric against λ) and the loss surface on
 * the plane through three models (heat map, contour lines, the models and the soups marked).
 */
import type { EChartsCoreOption } from 'echarts/core'
import type { InterpolateResult, PlaneResult } from '../../shared/api'
import { PALETTE } from './chart-options'

const fmt = (v: number | null | undefined, d = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d)

/** Loss (left axis) and one metric (right axis) against λ, with the straight line between the end losses. */
export function lmcOption(
  r: Pick<InterpolateResult, 'points'>,
  metric: string,
  metricLabel: string
): EChartsCoreOption {
  const pts = r.points
  const first = pts[0]
  const last = pts[pts.length - 1]
  const line =
    first && last && first.loss !== null && last.loss !== null
      ? pts.map((p) => {
          const t = (p.lambda - first.lambda) / (last.lambda - first.lambda)
          return [p.lambda, (1 - t) * (first.loss as number) + t * (last.loss as number)]
        })
      : []
  return {
    animation: false,
    color: PALETTE,
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : '—') },
    legend: { top: 0 },
    grid: { left: 56, right: 56, top: 40, bottom: 40, containLabel: true },
    xAxis: {
      type: 'value',
      name: 'λ (0 = A, 1 = B)',
      nameLocation: 'middle',
      nameGap: 26,
      min: first?.lambda,
      max: last?.lambda
    },
    yAxis: [
      { type: 'value', name: 'loss', scale: true },
      { type: 'value', name: metricLabel, scale: true, splitLine: { show: false } }
    ],
    series: [
      { name: 'loss', type: 'line', yAxisIndex: 0, data: pts.map((p) => [p.lambda, p.loss ?? '-']) },
      {
        name: 'straight line between the end losses',
        type: 'line',
        yAxisIndex: 0,
        showSymbol: false,
        lineStyle: { type: 'dashed', color: '#9aa3b2' },
        itemStyle: { color: '#9aa3b2' },
        data: line
      },
      { name: metricLabel, type: 'line', yAxisIndex: 1, data: pts.map((p) => [p.lambda, p.metrics[metric] ?? '-']) }
    ]
  }
}

/** Segments of the contour line at `level` over a grid (values row by row, y outer), by marching squares. */
export function contourSegments(
  xs: readonly number[],
  ys: readonly number[],
  values: readonly (number | null)[],
  level: number
): [number, number][][] {
  const nx = xs.length
  const segs: [number, number][][] = []
  const at = (i: number, j: number): number | null => values[j * nx + i]
  const cross = (x0: number, y0: number, v0: number, x1: number, y1: number, v1: number): [number, number] => {
    const t = v1 === v0 ? 0.5 : (level - v0) / (v1 - v0)
    return [x0 + t * (x1 - x0), y0 + t * (y1 - y0)]
  }
  for (let j = 0; j + 1 < ys.length; j++) {
    for (let i = 0; i + 1 < nx; i++) {
      const c = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)]
      if (c.some((v) => v === null || !Number.isFinite(v))) continue
      const [a, b, cc, d] = c as number[]
      const corners: [number, number, number][] = [
        [xs[i], ys[j], a],
        [xs[i + 1], ys[j], b],
        [xs[i + 1], ys[j + 1], cc],
        [xs[i], ys[j + 1], d]
      ]
      const points: [number, number][] = []
      for (let e = 0; e < 4; e++) {
        const p = corners[e]
        const q = corners[(e + 1) % 4]
        if (p[2] < level !== q[2] < level) points.push(cross(p[0], p[1], p[2], q[0], q[1], q[2]))
      }
      if (points.length === 2) segs.push(points)
      else if (points.length === 4) segs.push([points[0], points[1]], [points[2], points[3]])
    }
  }
  return segs
}

/** Contour levels: `n` losses evenly spaced between the lowest and a robust top (the 90th percentile). */
export function contourLevels(values: readonly (number | null)[], n = 8): number[] {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length < 2) return []
  const lo = v[0]
  const hi = v[Math.floor(0.9 * (v.length - 1))]
  if (!(hi > lo)) return []
  return Array.from({ length: n }, (_, k) => lo + ((hi - lo) * (k + 1)) / (n + 1))
}

/**
 * The loss plane: a heat map of the loss (category grid underneath), contour lines, the three
 * models and the projected soups on value axes laid exactly over it.
 * @param names model / soup id → label
 */
export function planeOption(r: PlaneResult, names: (id: string) => string): EChartsCoreOption {
  const { xs, ys } = r
  const n = xs.length
  const losses = r.grid.map((g) => g.loss)
  const finite = losses.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  const lo = finite[0] ?? 0
  const hi = finite[Math.floor(0.9 * Math.max(0, finite.length - 1))] ?? 1
  const dx = n > 1 ? xs[1] - xs[0] : 1
  const dy = ys.length > 1 ? ys[1] - ys[0] : 1
  const rect = { left: 70, right: 150, top: 30, bottom: 50 }
  const contours = contourLevels(losses).map((level) => {
    const data: (number[] | string)[] = []
    for (const s of contourSegments(xs, ys, losses, level)) data.push(s[0], s[1], '-')
    return {
      name: `loss ${level.toFixed(3)}`,
      type: 'line',
      xAxisIndex: 1,
      yAxisIndex: 1,
      showSymbol: false,
      silent: true,
      connectNulls: false,
      lineStyle: { color: 'rgba(255,255,255,0.85)', width: 1 },
      data
    }
  })
  const letters = ['A', 'B', 'C']
  return {
    animation: false,
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    tooltip: { trigger: 'item' },
    grid: [{ ...rect }, { ...rect }],
    xAxis: [
      { type: 'category', gridIndex: 0, data: xs.map((x) => x.toFixed(3)), show: false },
      {
        type: 'value',
        gridIndex: 1,
        min: xs[0] - dx / 2,
        max: xs[n - 1] + dx / 2,
        name: 'u (along B − A)',
        nameLocation: 'middle',
        nameGap: 28,
        axisLabel: { formatter: (v: number) => v.toFixed(2) },
        splitLine: { show: false }
      }
    ],
    yAxis: [
      { type: 'category', gridIndex: 0, data: ys.map((y) => y.toFixed(3)), show: false },
      {
        type: 'value',
        gridIndex: 1,
        min: ys[0] - dy / 2,
        max: ys[ys.length - 1] + dy / 2,
        name: 'v (⊥ u, towards C)',
        nameLocation: 'middle',
        nameGap: 44,
        axisLabel: { formatter: (v: number) => v.toFixed(2) },
        splitLine: { show: false }
      }
    ],
    visualMap: {
      seriesIndex: 0,
      min: lo,
      max: hi > lo ? hi : lo + 1,
      calculable: false,
      right: 10,
      top: 'middle',
      orient: 'vertical',
      text: [`loss ${hi.toFixed(3)} and above`, `loss ${lo.toFixed(3)}`],
      inRange: { color: ['#0b2e59', '#0072B2', '#56B4E9', '#F0E442', '#E69F00', '#D55E00'] }
    },
    series: [
      {
        name: 'validation loss',
        type: 'heatmap',
        xAxisIndex: 0,
        yAxisIndex: 0,
        data: r.grid.map((g, k) => [k % n, Math.floor(k / n), g.loss ?? '-']),
        tooltip: {
          formatter: (p: { data: [number, number, number] }) =>
            `u ${xs[p.data[0]].toFixed(3)}, v ${ys[p.data[1]].toFixed(3)}<br>loss ${fmt(p.data[2], 4)}`
        }
      },
      ...contours,
      {
        name: 'models',
        type: 'scatter',
        xAxisIndex: 1,
        yAxisIndex: 1,
        symbolSize: 14,
        itemStyle: { color: '#ffffff', borderColor: '#000000', borderWidth: 2 },
        label: {
          show: true,
          position: 'right',
          color: '#000000',
          backgroundColor: 'rgba(255,255,255,0.8)',
          padding: 2,
          formatter: (p: { dataIndex: number }) => `${letters[p.dataIndex]}: ${names(r.models[p.dataIndex].id)}`
        },
        tooltip: {
          formatter: (p: { dataIndex: number }) => {
            const m = r.models[p.dataIndex]
            return `${letters[p.dataIndex]} ${names(m.id)}<br>(${m.x.toFixed(3)}, ${m.y.toFixed(3)}) loss ${fmt(m.loss, 4)}`
          }
        },
        data: r.models.map((m) => [m.x, m.y])
      },
      {
        name: 'soups (projected)',
        type: 'scatter',
        xAxisIndex: 1,
        yAxisIndex: 1,
        symbol: 'diamond',
        symbolSize: 13,
        itemStyle: { color: '#CC79A7', borderColor: '#ffffff', borderWidth: 1 },
        label: {
          show: true,
          position: 'left',
          color: '#000000',
          backgroundColor: 'rgba(255,255,255,0.8)',
          padding: 2,
          formatter: (p: { dataIndex: number }) => r.soups[p.dataIndex].method ?? names(r.soups[p.dataIndex].id)
        },
        tooltip: {
          formatter: (p: { dataIndex: number }) => {
            const s = r.soups[p.dataIndex]
            return `${names(s.id)}<br>projected at (${s.x.toFixed(3)}, ${s.y.toFixed(3)}), ${s.distance.toFixed(3)} from the plane`
          }
        },
        data: r.soups.map((s) => [s.x, s.y])
      }
    ]
  }
}
