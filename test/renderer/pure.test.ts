import { describe, expect, it } from 'vitest'
import { formatCi, formatCount, formatDuration, formatLr, formatNumber } from '../../src/renderer/src/format'
import {
  PLAN_DEFAULTS,
  cosineLr,
  cyclicLr,
  fggSnapshots,
  parseNumberList,
  plannedSchedule,
  settingsOf
} from '../../src/renderer/src/plan'
import { compareCells, sortRows } from '../../src/renderer/src/table'
import { metricKind, seriesOf } from '../../src/renderer/src/curves'
import { classCountsOption, soupTreeOption } from '../../src/renderer/src/chart-options'
import { member } from './records'

describe('display formats', () => {
  it('formats durations, numbers, learning rates and CIs, and never prints NaN', () => {
    expect(formatDuration(12.4)).toBe('12 s')
    expect(formatDuration(250)).toBe('4 min 10 s')
    expect(formatDuration(3900)).toBe('1 h 05 min')
    expect(formatDuration(Number.NaN)).toBe('—')
    expect(formatNumber(0.91234)).toBe('0.912')
    expect(formatNumber(undefined)).toBe('—')
    expect(formatLr(5e-4)).toBe('5e-4')
    expect(formatLr(1e-7)).toBe('1e-7')
    expect(formatLr(2.5e-3)).toBe('2.50e-3')
    expect(formatCount(12345.4)).toBe('12,345')
    expect(formatCi(0.9, 0.85, 0.95)).toBe('0.900 [0.850, 0.950]')
    expect(formatCi(0.9, null, 0.95)).toBe('0.900')
  })
})

describe('plan arithmetic (METHOD.md figures)', () => {
  it('saves FGG members at epochs 1, 5, 9, 13, 17 of a 17-epoch cycle phase with c = 4', () => {
    expect(fggSnapshots(17, 4)).toBe(5)
    expect(fggSnapshots(16, 4)).toBe(4)
    expect(fggSnapshots(4, 2)).toBe(2) // c = 2: (e mod 2) + 1 = 1 at the even epochs 2 and 4
  })

  it('parses lists of learning rates and refuses anything else', () => {
    expect(parseNumberList('1e-3, 5e-4;1e-5')).toEqual([1e-3, 5e-4, 1e-5])
    expect(parseNumberList('1e-3, abc')).toBeNull()
    expect(parseNumberList('  ')).toBeNull()
  })
})

describe('learning-rate schedules (METHOD.md formulas)', () => {
  it('cyclic rate: a1 at the start of a cycle, a2 at its middle (the snapshot minima), linear between', () => {
    // c = 4: epoch 4 (t = 0) starts a cycle; epoch 1 ends at t = 0.5; halfway up at epoch 2, i = 0 (t = 0.5 exactly -> a2).
    expect(cyclicLr(1e-5, 1e-8, 4, 4, 0, 10)).toBeCloseTo(1e-5, 15)
    expect(cyclicLr(1e-5, 1e-8, 4, 2, 0, 10)).toBeCloseTo(1e-8, 15)
    // t = 0.25 (epoch 1, i = 0): halfway between a1 and a2.
    expect(cyclicLr(1e-5, 1e-8, 4, 1, 0, 10)).toBeCloseTo((1e-5 + 1e-8) / 2, 15)
    expect(cosineLr(1e-3, 1, 50)).toBe(1e-3)
    expect(cosineLr(1e-3, 26, 50)).toBeCloseTo(5e-4, 12) // cos(pi/2) = 0
  })

  it('plans one line per learning rate: cosine steps, then the cyclic phase per iteration', () => {
    const s = { ...PLAN_DEFAULTS, kind: 'fgg' as const, lrs: [1e-3], epochs: 1, fggEpochs: 2, cycle: 2, batchSize: 32 }
    const [line] = plannedSchedule(s, 128) // 4 iterations per epoch
    expect(line.name).toBe('lr 1e-3')
    expect(line.points.slice(0, 2)).toEqual([
      [0, 1e-3],
      [1, 1e-3]
    ])
    const cyclic = line.points.slice(2)
    expect(cyclic.map((p) => p[0])).toEqual([1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75])
    expect(cyclic[0][1]).toBeCloseTo(1e-8, 15) // epoch 1 of c = 2 starts at t = 0.5: the minimum
    expect(cyclic[4][1]).toBeCloseTo(1e-5, 15) // epoch 2 starts a new cycle: the maximum
    expect(settingsOf({ kind: 'fgg', lrs: [1e-3], epochs: 1, batchSize: 32, cycle: 2 })?.cycle).toBe(2)
    expect(settingsOf({ kind: 'pretrain', lrs: [1e-3], epochs: 4, batchSize: 128 })).toBeNull()
  })
})

describe('table sorting', () => {
  it('sorts numbers numerically and text naturally, empty cells last in both directions', () => {
    const rows = [{ v: 10 }, { v: null }, { v: 9 }, { v: 100 }]
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v)).toEqual([9, 10, 100, null])
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v)).toEqual([100, 10, 9, null])
    expect(sortRows([{ s: 'm10' }, { s: 'm9' }], (r) => r.s, 'asc').map((r) => r.s)).toEqual(['m9', 'm10'])
    expect(compareCells(Number.NaN, 1, 'asc')).toBe(1)
  })
})

describe('curves and chart options', () => {
  it('splits metrics into loss, learning-rate and quality series ordered by epoch', () => {
    expect(metricKind('val_loss')).toBe('loss')
    expect(metricKind('lr')).toBe('lr')
    expect(metricKind('val_accuracy')).toBe('metric')
    const m = member()
    const metrics = {
      [m.id]: [
        { memberId: m.id, epoch: 2, name: 'val_loss', value: 0.5 },
        { memberId: m.id, epoch: 1, name: 'val_loss', value: 0.7 },
        { memberId: m.id, epoch: 1, name: 'lr', value: 1e-3 },
        { memberId: m.id, epoch: 1, name: 'val_accuracy', value: Number.NaN }
      ]
    }
    expect(seriesOf([m], metrics, 'loss')).toEqual([
      {
        name: 'val_loss',
        points: [
          [1, 0.7],
          [2, 0.5]
        ]
      }
    ])
    expect(seriesOf([m], metrics, 'metric')).toEqual([])
  })

  it('draws one bar series per split with the class counts in class order', () => {
    const option = classCountsOption({ train: { a: 3, b: 5 }, test: { b: 2 } }, ['a', 'b']) as {
      series: { name: string; data: number[] }[]
    }
    expect(option.series).toEqual([
      { name: 'train', type: 'bar', data: [3, 5] },
      { name: 'test', type: 'bar', data: [0, 2] }
    ])
  })

  it('marks kept tree nodes and prints their score', () => {
    const option = soupTreeOption({
      name: 'gog',
      score: 0.9,
      kept: null,
      children: [
        { name: 'm1', score: 0.85, kept: true, children: [] },
        { name: 'm2', score: 0.7, kept: false, children: [] }
      ]
    }) as {
      series: { data: { name: string; children: { name: string; itemStyle: { color: string } }[] }[] }[]
    }
    const root = option.series[0].data[0]
    expect(root.name).toBe('gog · 0.900')
    expect(root.children.map((c) => c.name)).toEqual(['m1 · 0.850 ✓', 'm2 · 0.700'])
    expect(root.children[0].itemStyle.color).not.toBe(root.children[1].itemStyle.color)
  })
})
