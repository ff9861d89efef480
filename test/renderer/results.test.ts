import { describe, expect, it } from 'vitest'
import type { ExportResult, FuseMethodRow, FuseResult } from '../../src/shared/job-results'
import { metricName, readFuseResult } from '../../src/renderer/src/fuse-result'
import { readCard } from '../../src/renderer/src/model-card'

const gogRow: FuseMethodRow = {
  method: 'gog',
  label: 'GoG',
  kind: 'soup',
  modelId: 'soup_9',
  val: 0.91,
  test: { acc: { value: 0.88, ci: [0.84, 0.92] }, auc: { value: null, ci: [null, null] } },
  testN: 60,
  vsBest: { difference: 0.02, ci: [-0.01, 0.05], p: 0.2 },
  ood: { ds_2: { n: 40, metrics: { acc: { value: 0.7, ci: [0.6, 0.8] } }, unmappedSource: [], unmatchedRun: [] } },
  corruptions: { blur: [{ acc: 0.8 }, { acc: 0.7 }, { acc: null }] },
  epochs: 6,
  seconds: 12.5,
  accounting: { inferencesPerImage: 1 },
  ingredients: [],
  tree: { level: 'global', id: 'gog', val: 0.91, kept: true, weight: 1 },
  steps: null
}

const fuseResult: FuseResult = {
  runId: 'run_1',
  datasetId: 'ds_1',
  metric: 'acc',
  groupBy: 'lr',
  backend: 'wasm',
  notes: ['resized'],
  seconds: {
    load: 1,
    bn: 0,
    val: 1,
    test: 1,
    ood: 1,
    suite: 0,
    corruptions: 0,
    bootstrap: 0,
    predictions: 0,
    total: 4
  },
  members: [],
  damaged: null,
  methods: [gogRow],
  predictions: {}
}

describe('fuse job result', () => {
  it('reads methods with test CIs, the paired test, OOD and corruption values (undefined metrics: null, NaN on the wire)', () => {
    const view = readFuseResult(fuseResult)
    expect(view?.notes).toEqual(['resized'])
    expect(view?.methods).toHaveLength(1)
    const gog = view!.methods[0]
    expect(gog.test).toEqual({ acc: { value: 0.88, lo: 0.84, hi: 0.92 }, auc: { value: null, lo: null, hi: null } })
    expect(gog.vsBest).toEqual({ difference: 0.02, lo: -0.01, hi: 0.05, p: 0.2 })
    expect(gog.ood.ds_2.acc.value).toBe(0.7)
    expect(gog.corruptions.blur.map((l) => l.acc)).toEqual([0.8, 0.7, null])
    expect(gog.inferencesPerImage).toBe(1)
    expect(
      readFuseResult({ ...fuseResult, methods: [{ ...gogRow, corruptions: null, accounting: null }] })?.methods[0]
    ).toMatchObject({ corruptions: {}, inferencesPerImage: null })
    expect(readFuseResult(null)).toBeNull()
    // what the corruption suite ran on: absent in older results, else images of how many and whether the ensemble too
    expect(view?.corruptionSuite).toBeNull()
    expect(
      readFuseResult({
        ...fuseResult,
        methods: [],
        corruptionSuite: { images: 100, of: 624, seed: 0, ensemble: false }
      })?.corruptionSuite
    ).toEqual({ images: 100, of: 624, ensemble: false })
    expect(metricName('kappa')).toBe('quadratic kappa')
  })
})

describe('model card', () => {
  it('reads the card an export returns, leaving out metrics undefined on their split', () => {
    const result: ExportResult = {
      file: 'exports/soup_9.onnx',
      sha256: 'cd'.repeat(32),
      files: ['exports/soup_9.onnx'],
      card: {
        cardVersion: 1,
        appVersion: '0.2.0',
        intendedUse: 'research',
        modelName: 'gog (acc)',
        createdAt: '2026-11-27T02:00:00.000Z',
        architecture: { name: 'smallcnn', options: {} },
        dataset: { name: 'pneumonia subset', task: 'single', classes: ['normal', 'pneumonia'] },
        preprocessing: { size: [28, 28], channels: 1, layout: 'NHWC', scale: 1 / 255, mean: [0], std: [1] },
        output: { name: 'probabilities', activation: 'softmax' },
        method: {
          kind: 'gog soup',
          ingredients: [
            { id: 'm1', hyperparameters: {} },
            { id: 'm2', hyperparameters: {} }
          ]
        },
        metrics: [
          { split: 'test', metric: 'acc', value: 0.88, ci95: [0.84, 0.92], n: 60 },
          { split: 'val', metric: 'auc', value: null }
        ],
        weightsSha256: 'ab'.repeat(32)
      }
    }
    const card = readCard(result)
    expect(card).toMatchObject({
      modelName: 'gog (acc)',
      architecture: 'smallcnn',
      ingredients: 2,
      classes: ['normal', 'pneumonia']
    })
    expect(card?.metrics).toEqual([{ split: 'test', metric: 'acc', value: 0.88, lo: 0.84, hi: 0.92, n: 60 }])
    expect(readCard(null)).toBeNull()
  })
})
