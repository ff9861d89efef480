import { describe, expect, it } from 'vitest'
import {
  assertExportSafe,
  cardFromMetadata,
  cardToMarkdown,
  cardToMetadata,
  ModelCardSchema,
  UnsafeCardError,
  unsafeReason
} from '../../../../src/main/engine/export/card'
import { encodeModel } from '../../../../src/main/engine/export/onnx/model'
import { rawMetadataProps, sampleCard } from './helpers'

describe('model card', () => {
  it('round-trips through ONNX metadata_props, read by the schema and by a raw wire decoder', () => {
    const card = sampleCard()
    const meta = cardToMetadata(card)
    expect(meta.preprocessing).toBe(JSON.stringify(card.preprocessing))
    expect(meta.appVersion).toBe('0.1.0')
    const bytes = encodeModel(
      {
        nodes: [],
        initializers: [],
        input: { name: 'image', shape: [28, 28, 3] },
        output: { name: 'probabilities', shape: [5] },
        weights: {}
      },
      meta,
      { name: 'FissionFusion Workstation', version: '0.1.0' }
    )
    const raw = rawMetadataProps(bytes)
    expect(raw).toEqual(meta)
    expect(cardFromMetadata(raw)).toEqual(card)
    expect(JSON.parse(raw.preprocessing)).toEqual({
      size: [28, 28],
      channels: 3,
      layout: 'NHWC',
      scale: 1 / 255,
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25]
    })
  })

  it('names a missing or malformed field when reading back', () => {
    const meta = cardToMetadata(sampleCard())
    const { metrics: _m, ...noMetrics } = meta
    expect(() => cardFromMetadata(noMetrics)).toThrow(/field "metrics" is missing/)
    expect(() => cardFromMetadata({ ...meta, weightsSha256: 'xyz' })).toThrow(/weightsSha256/)
    expect(() => cardFromMetadata({ ...meta, dataset: '{' })).toThrow(/"dataset" is not valid JSON/)
  })

  it('renders Markdown with the preprocessing, classes, ingredients and metrics', () => {
    const md = cardToMarkdown(sampleCard())
    expect(md).toContain('# GoG soup')
    expect(md).toContain('mean [0.5000, 0.5000, 0.5000], std [0.2500, 0.2500, 0.2500]')
    expect(md).toContain('float32 [N, 28, 28, 3] (NHWC)')
    expect(md).toContain('0: 0, 1: 1, 2: 2, 3: 3, 4: 4')
    expect(md).toContain('- m-01: lr=0.0001, seed=0, augmentation=heavy, fgg=true')
    expect(md).toContain('| test | acc | 0.5225 | 0.4750–0.5700 | 400 |')
    expect(md).toContain('| ood:gaussian-noise-3 | acc | 0.4100 | — | — |')
  })
})

describe('export sanitiser', () => {
  it.each([
    '/home/alice/datasets/chest',
    '/tmp/x',
    'trained on /data/hospital/export',
    '~/datasets/x',
    'C:\\Users\\alice\\data',
    'D:/scans',
    'see \\\\fileserver\\share\\study',
    'file:///srv/pacs/1.dcm',
    '1.2.840.113619.2.55.3.604688119',
    '"/Volumes/USB/ct"'
  ])('rejects %s', (s) => {
    expect(unsafeReason(s)).not.toBeNull()
    expect(() => assertExportSafe(sampleCard({ dataset: { name: s, task: 'single', classes: ['a'] } }))).toThrow(
      UnsafeCardError
    )
  })

  it.each([
    'RetinaMNIST',
    'pneumonia / normal',
    'w/o contrast',
    'lr=1e-4',
    'ood:gaussian-noise-3',
    'CheXpert v1.0',
    '1/255',
    'ISIC 2018: task 3',
    'https://medmnist.com'
  ])('accepts %s', (s) => {
    expect(unsafeReason(s)).toBeNull()
  })

  it('names the field and looks into nested values and keys, not only the top level', () => {
    const card = sampleCard()
    card.method.ingredients[1].hyperparameters.dataDir = '/mnt/pacs/run3'
    expect(() => assertExportSafe(card)).toThrow(/field "card\.method\.ingredients\[1\]\.hyperparameters\.dataDir"/)
    const keyed = sampleCard()
    keyed.method.ingredients[0].hyperparameters['/home/bob'] = 1
    expect(() => assertExportSafe(keyed)).toThrow(/a key in "card\.method\.ingredients\[0\]\.hyperparameters"/)
    expect(() => assertExportSafe(sampleCard())).not.toThrow()
  })

  it('refuses strings that carry a forbidden value (e.g. a patient name) without echoing it', () => {
    const card = sampleCard({ modelName: 'soup for DOE^JOHN' })
    expect(() => assertExportSafe(card, 'card', ['DOE^JOHN'])).toThrow(
      /field "card\.modelName" contains a value from the source data/
    )
    try {
      assertExportSafe(card, 'card', ['DOE^JOHN'])
    } catch (e) {
      expect(String(e)).not.toContain('DOE')
    }
  })

  it('the schema rejects a card with a wrong layout or a non-hex hash', () => {
    expect(
      ModelCardSchema.safeParse({ ...sampleCard(), preprocessing: { ...sampleCard().preprocessing, layout: 'NCHW' } })
        .success
    ).toBe(false)
    expect(ModelCardSchema.safeParse({ ...sampleCard(), weightsSha256: 'Z'.repeat(64) }).success).toBe(false)
  })
})
