import { describe, expect, it } from 'vitest'
import { metricName, readFuseResult } from '../../src/renderer/src/fuse-result'
import { readCard } from '../../src/renderer/src/model-card'

describe('fuse job result', () => {
  it('reads methods with test CIs, the paired test, OOD and corruption values, dropping nulls (NaN on the wire)', () => {
    const view = readFuseResult({
      runId: 'run_1', metric: 'acc', groupBy: 'lr', backend: 'wasm', notes: ['resized', 3],
      methods: [
        {
          method: 'gog', label: 'GoG', kind: 'soup', modelId: 'soup_9', val: 0.91,
          test: { acc: { value: 0.88, ci: [0.84, 0.92] }, auc: { value: null, ci: [null, null] } }, testN: 60,
          vsBest: { difference: 0.02, ci: [-0.01, 0.05], p: 0.2 },
          ood: { ds_2: { n: 40, metrics: { acc: { value: 0.7, ci: [0.6, 0.8] } } } },
          corruptions: { blur: [{ acc: 0.8 }, { acc: 0.7 }, { acc: null }] },
          epochs: 6, seconds: 12.5, accounting: { inferencesPerImage: 1 }, tree: { level: 'global', id: 'gog' }
        },
        { label: 'no method id' }
      ]
    })
    expect(view?.notes).toEqual(['resized'])
    expect(view?.methods).toHaveLength(1)
    const gog = view!.methods[0]
    expect(gog.test).toEqual({ acc: { value: 0.88, lo: 0.84, hi: 0.92 }, auc: { value: null, lo: null, hi: null } })
    expect(gog.vsBest).toEqual({ difference: 0.02, lo: -0.01, hi: 0.05, p: 0.2 })
    expect(gog.ood.ds_2.acc.value).toBe(0.7)
    expect(gog.corruptions.blur.map((l) => l.acc)).toEqual([0.8, 0.7, null])
    expect(gog.inferencesPerImage).toBe(1)
    expect(readFuseResult({ methods: 'x' })).toBeNull()
    // what the corruption suite ran on: absent in older results, else images of how many and whether the ensemble too
    expect(view?.corruptionSuite).toBeNull()
    expect(readFuseResult({ methods: [], corruptionSuite: { images: 100, of: 624, seed: 0, ensemble: false } })?.corruptionSuite).toEqual({ images: 100, of: 624, ensemble: false })
    expect(metricName('kappa')).toBe('quadratic kappa')
  })
})

describe('model card', () => {
  it('reads the card an export returns, keeping only well-formed metrics', () => {
    const card = readCard({
      file: 'exports/soup_9.onnx',
      card: {
        modelName: 'gog (acc)', createdAt: '2026-11-27T02:00:00.000Z', architecture: { name: 'smallcnn', options: {} },
        dataset: { name: 'pneumonia subset', task: 'single', classes: ['normal', 'pneumonia'] },
        method: { kind: 'gog soup', ingredients: [{ id: 'm1' }, { id: 'm2' }] },
        metrics: [{ split: 'test', metric: 'acc', value: 0.88, ci95: [0.84, 0.92], n: 60 }, { split: 'val', metric: 'acc', value: 'x' }],
        weightsSha256: 'ab'.repeat(32)
      }
    })
    expect(card).toMatchObject({ modelName: 'gog (acc)', architecture: 'smallcnn', ingredients: 2, classes: ['normal', 'pneumonia'] })
    expect(card?.metrics).toEqual([{ split: 'test', metric: 'acc', value: 0.88, lo: 0.84, hi: 0.92, n: 60 }])
    expect(readCard({ file: 'x' })).toBeNull()
  })
})
