/**
 * Pure builders of ECharts options from app records: each takes plain data and returns the
 * option object, so they can be tested without drawing anything.
 */
import type { EChartsCoreOption } from 'echarts/core'

/** The app's series colours, in order (colour-blind safe, Okabe–Ito). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000']

// No animation: charts show their values at once (and screenshots show what the data says).
const base = {
  animation: false,
  color: PALETTE,
  textStyle: { fontFamily: 'system-ui, sans-serif' },
  tooltip: { trigger: 'axis' },
  grid: { left: 56, right: 20, top: 36, bottom: 40, containLabel: true }
}

/** Images per class, one bar group per class, one bar per split. */
export function classCountsOption(
  perClass: Record<string, Record<string, number>>,
  classes: string[]
): EChartsCoreOption {
  const splits = ['train', 'val', 'test'].filter((s) => perClass[s])
  return {
    ...base,
    legend: { top: 0 },
    xAxis: { type: 'category', data: classes, axisLabel: { interval: 0, rotate: classes.length > 6 ? 30 : 0 } },
    yAxis: { type: 'value', name: 'images' },
    series: splits.map((split) => ({ name: split, type: 'bar', data: classes.map((c) => perClass[split][c] ?? 0) }))
  }
}

/** One line per named series over x (epochs or iterations). */
export interface LineSeries {
  name: string
  /** [x, y] points, x ascending. */
  points: [number, number][]
}

/** Lines over a numeric x axis (loss / metric curves, LR schedule). */
export function linesOption(series: LineSeries[], xName: string, yName: string, logY = false): EChartsCoreOption {
  return {
    ...base,
    legend: { top: 0, type: 'scroll' },
    xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 26, minInterval: 1 },
    yAxis: { type: logY ? 'log' : 'value', name: yName, scale: !logY },
    series: series.map((s) => ({ name: s.name, type: 'line', showSymbol: s.points.length < 30, data: s.points }))
  }
}

/** One bar group per category, one bar per series (OOD: dataset × method). */
export function groupedBarsOption(
  categories: string[],
  series: { name: string; values: (number | null)[] }[],
  yName: string
): EChartsCoreOption {
  return {
    ...base,
    legend: { top: 0, type: 'scroll' },
    xAxis: { type: 'category', data: categories, axisLabel: { interval: 0 } },
    // Bars start at zero: their length is the value.
    yAxis: { type: 'value', name: yName, min: 0 },
    series: series.map((s) => ({ name: s.name, type: 'bar', data: s.values.map((v) => (v === null ? '-' : v)) }))
  }
}

/** A node of the soup hierarchy tree. */
export interface TreeNode {
  /** Name shown: soup method or member name. */
  name: string
  /** Validation score on the selection metric, or null when not evaluated. */
  score: number | null
  /** Greedy selection: true when kept, false when tried and rejected, null when not a greedy choice. */
  kept: boolean | null
  children: TreeNode[]
}

function echartsNode(node: TreeNode): Record<string, unknown> {
  const score = node.score === null ? '' : ` · ${node.score.toFixed(3)}`
  const colour = node.kept === false ? '#b0b7c3' : node.kept === true ? '#009E73' : '#0072B2'
  return {
    name: `${node.name}${score}${node.kept === true ? ' ✓' : ''}`,
    value: node.score ?? undefined,
    itemStyle: { color: colour, borderColor: colour },
    label: { color: node.kept === false ? '#8a93a3' : '#1d2430' },
    children: node.children.map(echartsNode)
  }
}

/** The soup hierarchy: global soup → group soups → members; kept ingredients in green, rejected grey. */
export function soupTreeOption(root: TreeNode): EChartsCoreOption {
  return {
    animation: false,
    color: PALETTE,
    tooltip: { trigger: 'item' },
    series: [
      {
        type: 'tree',
        data: [echartsNode(root)],
        orient: 'LR',
        top: 16,
        bottom: 16,
        // room for the root's label (method and its level method), drawn to its left
        left: Math.max(130, 7 * String(echartsNode(root).name).length + 20),
        right: 220,
        symbolSize: 10,
        initialTreeDepth: -1,
        expandAndCollapse: false,
        label: { position: 'left', verticalAlign: 'middle', align: 'right', fontSize: 12 },
        leaves: { label: { position: 'right', verticalAlign: 'middle', align: 'left' } }
      }
    ]
  }
}

/** ROC curves: one line per model, with the chance diagonal. */
export function rocOption(curves: { name: string; fpr: number[]; tpr: number[] }[]): EChartsCoreOption {
  return {
    ...base,
    tooltip: { trigger: 'item' },
    legend: { top: 0 },
    xAxis: { type: 'value', min: 0, max: 1, name: 'false positive rate', nameLocation: 'middle', nameGap: 26 },
    // the axis name beside the axis, so the legend above the plot never covers it
    yAxis: { type: 'value', min: 0, max: 1, name: 'true positive rate', nameLocation: 'middle', nameGap: 34 },
    series: [
      ...curves.map((c) => ({
        name: c.name,
        type: 'line',
        showSymbol: false,
        data: c.fpr.map((x, i) => [x, c.tpr[i]])
      })),
      {
        name: 'chance',
        type: 'line',
        showSymbol: false,
        lineStyle: { type: 'dashed', color: '#9aa3b2' },
        data: [
          [0, 0],
          [1, 1]
        ]
      }
    ]
  }
}

/** A confusion matrix as a heat map (rows: true class, columns: predicted). */
export function confusionOption(classes: string[], matrix: number[][]): EChartsCoreOption {
  const data = matrix.flatMap((row, t) => row.map((n, p) => [p, t, n]))
  const max = Math.max(1, ...data.map((d) => d[2]))
  return {
    animation: false,
    tooltip: { position: 'top' },
    grid: { left: 90, right: 20, top: 20, bottom: 60 },
    xAxis: { type: 'category', data: classes, name: 'predicted', nameLocation: 'middle', nameGap: 40 },
    yAxis: { type: 'category', data: classes, name: 'true', inverse: true },
    visualMap: { min: 0, max, show: false, inRange: { color: ['#f3f6fb', '#0072B2'] } },
    series: [{ type: 'heatmap', data, label: { show: true } }]
  }
}
