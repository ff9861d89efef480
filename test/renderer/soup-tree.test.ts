import { describe, expect, it } from 'vitest'
import { treeFromConfig, treeFromRecords } from '../../src/renderer/src/soup-tree'
import { ingredient, soup } from './records'

const names = new Map([
  ['m1', 'member 1'],
  ['m2', 'member 2'],
  ['m3', 'member 3']
])

describe('soup hierarchy tree', () => {
  it('builds global → group → member from soup records, in trial order, with kept marks and step scores', () => {
    const groupA = soup({ id: 's_a', method: 'greedy', groupKey: 'lr=1e-3', valScore: 0.8 })
    const groupB = soup({ id: 's_b', method: 'greedy', groupKey: 'lr=1e-5', valScore: 0.6 })
    const tree = treeFromRecords(
      {
        soup: soup({ id: 's_g', method: 'gog', valScore: 0.82 }),
        ingredients: [
          ingredient({ soupId: 's_g', position: 1, memberId: null, childSoupId: 's_b', kept: false, stepScore: 0.79 }),
          ingredient({ soupId: 's_g', position: 0, memberId: null, childSoupId: 's_a', kept: true, stepScore: 0.8 })
        ],
        children: {
          s_a: {
            soup: groupA,
            ingredients: [
              ingredient({ memberId: 'm1', kept: true, stepScore: 0.75 }),
              ingredient({ position: 1, memberId: 'm2', kept: true, stepScore: 0.8 })
            ],
            children: {}
          },
          s_b: { soup: groupB, ingredients: [ingredient({ memberId: 'm3', kept: true, stepScore: 0.6 })], children: {} }
        }
      },
      names
    )
    expect(tree.name).toBe('gog')
    expect(tree.kept).toBeNull()
    expect(tree.children.map((c) => [c.name, c.kept, c.score])).toEqual([
      ['greedy · lr=1e-3', true, 0.8],
      ['greedy · lr=1e-5', false, 0.6]
    ])
    expect(tree.children[0].children.map((c) => c.name)).toEqual(['member 1', 'member 2'])
  })

  it('reads the tree the engine stored in the soup config, and refuses a malformed one', () => {
    const config = {
      tree: {
        level: 'global',
        id: 'gou',
        val: 0.9,
        kept: true,
        weight: 1,
        children: [
          {
            level: 'group',
            id: 'lr=1e-3',
            val: Number.NaN,
            kept: true,
            weight: 1,
            children: [{ level: 'member', id: 'm1', val: 0.7, kept: false, weight: 0 }]
          }
        ]
      }
    }
    const tree = treeFromConfig(config, names)
    expect(tree).toEqual({
      name: 'gou · greedy',
      score: 0.9,
      kept: null,
      children: [
        {
          name: 'uniform · lr=1e-3',
          score: null,
          kept: true,
          children: [{ name: 'member 1', score: 0.7, kept: false, children: [] }]
        }
      ]
    })
    expect(treeFromConfig({ tree: { level: 'global' } }, names)).toBeNull()
    expect(treeFromConfig(null, names)).toBeNull()
  })

  it('names the method of each level of a generalised hierarchy, and what it chose', () => {
    const member = { level: 'member', id: 'm1', val: 0.7, kept: true, weight: 0.5 }
    const tree = treeFromConfig(
      {
        tree: {
          level: 'global',
          id: 'hier:taskarith/modelstock',
          val: 0.9,
          kept: true,
          weight: 1,
          method: 'taskarith',
          detail: 'λ=0.3',
          children: [
            { level: 'group', id: 'lr=1e-3', val: 0.8, kept: true, weight: 1, method: 'modelstock', children: [member] }
          ]
        }
      },
      names
    )!
    expect(tree.name).toBe('hier:taskarith/modelstock · taskarith · λ=0.3')
    expect(tree.children[0].name).toBe('modelstock · lr=1e-3')
    // trees stored before the levels were recorded: known from the method id
    expect(
      treeFromConfig(
        {
          tree: {
            level: 'global',
            id: 'hier:greedy/ties',
            val: 1,
            kept: true,
            weight: 1,
            children: [{ level: 'group', id: 'lr=1', val: 1, kept: true, weight: 1, children: [member] }]
          }
        },
        names
      )!.children[0].name
    ).toBe('ties · lr=1')
    expect(
      treeFromConfig(
        {
          tree: {
            level: 'global',
            id: 'ties',
            val: 1,
            kept: true,
            weight: 1,
            children: [{ level: 'group', id: 'all', val: 1, kept: true, weight: 1, children: [member] }]
          }
        },
        names
      )!.name
    ).toBe('ties')
    expect(treeFromConfig(null, names)).toBeNull()
  })
})
