import { describe, expect, it } from 'vitest'
import { contourLevels, contourSegments, lmcOption, planeOption } from '../../src/renderer/src/fusion-charts'
import type { PlaneResult } from '../../src/shared/api'

describe('fusion charts', () => {
  it('contours of a plane f = x + 2y are the straight lines x + 2y = level', () => {
    const xs = [0, 1, 2, 3]
    const ys = [0, 1, 2]
    const values = ys.flatMap((y) => xs.map((x) => x + 2 * y))
    const segs = contourSegments(xs, ys, values, 2.5)
    expect(segs.length).toBeGreaterThan(0)
    for (const s of segs) for (const [x, y] of s) expect(x + 2 * y).toBeCloseTo(2.5, 12)
    // a cell with a missing value draws nothing
    expect(contourSegments([0, 1], [0, 1], [0, null, 1, 1], 0.5)).toEqual([])
    // 4 levels evenly inside [lowest, 90th percentile] = [1, 10]
    contourLevels([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 4).forEach((v, k) =>
      expect(v).toBeCloseTo([2.8, 4.6, 6.4, 8.2][k], 12)
    )
  })

  it('the LMC chart draws loss, the straight line between the end losses and the metric', () => {
    const o = lmcOption(
      {
        points: [
          { lambda: 0, loss: 1, metrics: { acc: 0.8 } },
          { lambda: 0.5, loss: 3, metrics: { acc: 0.5 } },
          { lambda: 1, loss: 2, metrics: { acc: 0.7 } }
        ]
      },
      'acc',
      'accuracy'
    ) as { series: { name: string; data: unknown[] }[] }
    expect(o.series.map((s) => s.name)).toEqual(['loss', 'straight line between the end losses', 'accuracy'])
    expect(o.series[1].data).toEqual([
      [0, 1],
      [0.5, 1.5],
      [1, 2]
    ])
    expect(o.series[2].data).toEqual([
      [0, 0.8],
      [0.5, 0.5],
      [1, 0.7]
    ])
  })

  it("the plane chart lays the heat map cells under the models' coordinates", () => {
    const xs = [-1, 0, 1]
    const ys = [0, 1]
    const r: PlaneResult = {
      datasetId: 'd',
      runId: 'r',
      split: 'val',
      backend: 'cpu',
      gridSize: 3,
      margin: 0,
      models: [
        { id: 'a', x: 0, y: 0, loss: 1, metrics: {} },
        { id: 'b', x: 1, y: 0, loss: 2, metrics: {} },
        { id: 'c', x: -1, y: 1, loss: 3, metrics: {} }
      ],
      xs,
      ys,
      grid: ys.flatMap((y) => xs.map((x) => ({ x, y, loss: 1 + x * x + y, metrics: {} }))),
      soups: [{ id: 's', method: 'uniform', x: 0, y: 0.3, distance: 0.1 }]
    }
    const o = planeOption(r, (id) => id) as {
      xAxis: { min?: number; max?: number }[]
      series: { type: string; data: unknown[] }[]
    }
    expect(o.xAxis[1]).toMatchObject({ min: -1.5, max: 1.5 })
    const heat = o.series[0]
    expect(heat.type).toBe('heatmap')
    expect(heat.data[4]).toEqual([1, 1, 2]) // x index 1 (x = 0), y index 1 (y = 1): loss 1 + 0 + 1
    expect(o.series.at(-2)!.data).toEqual([
      [0, 0],
      [1, 0],
      [-1, 1]
    ])
    expect(o.series.at(-1)!.data).toEqual([[0, 0.3]])
  })
})
