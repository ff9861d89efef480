import { describe, expect, it } from 'vitest'
import {
  methodsTable,
  pickBestSoup,
  treeText,
  type FuseResult,
  type FuseRow,
  type SoupTreeNode
} from '../../../../src/main/engine/demo/report'

const leaf = (id: string, val: number, kept: boolean, weight: number): SoupTreeNode => ({
  level: 'member',
  id,
  val,
  kept,
  weight
})
const tree: SoupTreeNode = {
  level: 'global',
  id: 'gog',
  val: 0.75,
  kept: true,
  weight: 1,
  children: [
    {
      level: 'group',
      id: 'lr=0.001',
      val: 0.7,
      kept: true,
      weight: 1,
      children: [leaf('a', 0.7, true, 0.5), leaf('b', 0.6, true, 0.5), leaf('c', 0.5, false, 0)]
    }
  ]
}
const row = (
  method: string,
  val: number | null,
  modelId: string | null,
  corruptions: FuseRow['corruptions'] = null
): FuseRow => ({
  method,
  kind: method === 'ensemble' ? 'ensemble' : 'soup',
  modelId,
  val,
  test: {},
  ood: {},
  corruptions,
  epochs: 10,
  seconds: 1,
  tree
})

describe('pipeline report', () => {
  it('picks the single-model soup with the highest validation score, never the best member or the ensemble', () => {
    const fused: Record<string, FuseResult> = {
      grid: {
        runId: 'g',
        metric: 'acc',
        methods: [
          row('best', 0.9, 'm1'),
          row('uniform', 0.6, 's1'),
          row('greedy', 0.8, 's2'),
          row('ensemble', 0.95, null)
        ]
      },
      fgg: {
        runId: 'f',
        metric: 'acc',
        methods: [row('gog', 0.8, 's3'), row('gou', 0.81, 's4'), row('uou', null, 's5')]
      }
    }
    expect(pickBestSoup(fused)).toMatchObject({ plan: 'fgg', method: 'gou', modelId: 's4', val: 0.81 })
    // Ties go to the first in plan then method order.
    fused.fgg.methods[1].val = 0.8
    expect(pickBestSoup(fused)).toMatchObject({ plan: 'grid', method: 'greedy' })
    expect(pickBestSoup({ grid: { runId: 'g', metric: 'acc', methods: [row('best', 0.9, 'm1')] } })).toBeNull()
  })

  it('flattens both plans into one table with the mean corruption score', () => {
    const rows = methodsTable(
      {
        grid: {
          runId: 'g',
          metric: 'acc',
          methods: [row('uniform', 0.6, 's1', { blur: [{ acc: 0.5 }, { acc: 0.3 }], noise: [{ acc: 0.1 }] })]
        }
      },
      'acc'
    )
    expect(rows).toHaveLength(1)
    expect(rows[0].plan).toBe('grid')
    expect(rows[0].corruptionMean).toBeCloseTo(0.3, 12)
    expect('tree' in rows[0]).toBe(false)
  })

  it('draws a soup tree as indented text', () => {
    expect(treeText(tree)).toEqual([
      'gog  val 0.750',
      '  + lr=0.001  val 0.700  weight 1.000',
      '    + a  val 0.700  weight 0.500',
      '    + b  val 0.600  weight 0.500',
      '    - c  val 0.500  weight 0.000  (not kept)'
    ])
  })
})
