// @vitest-environment happy-dom
// The analysis pieces: ROC curves + confusion matrix, the paired comparison of any two methods,
// the import wizard's detected source with column corrections, the New run estimate, the run picker.
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createTestingPinia } from '@pinia/testing'
import { defineComponent, h } from 'vue'
import type { PropType } from 'vue'
import type { DatasetInspection, MethodComparison, ModelCurvesReport, RunEstimate } from '../../../src/shared/api'
import { setApi } from '../../../src/renderer/src/api'
import { useAnalysisStore } from '../../../src/renderer/src/stores/analysis'
import ModelCurves from '../../../src/renderer/src/components/ModelCurves.vue'
import MethodCompare from '../../../src/renderer/src/components/MethodCompare.vue'
import ImportWizard from '../../../src/renderer/src/components/ImportWizard.vue'
import RunPicker from '../../../src/renderer/src/components/RunPicker.vue'
import NewRunView from '../../../src/renderer/src/views/NewRunView.vue'
import { fakeApi } from '../fake-api'
import { dataset } from '../records'

const ChartStub = defineComponent({
  name: 'AppChart',
  props: {
    option: { type: Object as PropType<Record<string, unknown>>, required: true },
    label: { type: String, required: true },
    height: { type: Number, default: 280 }
  },
  setup: (props) => () => h('div', { class: 'chart-stub', 'data-label': props.label })
})
const global = (initialState: Record<string, unknown> = {}) => ({
  plugins: [createTestingPinia({ createSpy: vi.fn, stubActions: false, initialState })],
  stubs: { AppChart: ChartStub }
})
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

const curves = (modelId: string): ModelCurvesReport => ({
  modelId,
  modelKind: 'soup',
  split: 'test',
  task: 'single',
  classes: ['normal', 'pneumonia'],
  n: 10,
  confusion: [
    [4, 1],
    [2, 3]
  ],
  labelCounts: null,
  roc: [
    {
      name: 'normal',
      auc: 0.76,
      positives: 5,
      points: [
        { fpr: 0, tpr: 0 },
        { fpr: 0.2, tpr: 0.6 },
        { fpr: 1, tpr: 1 }
      ]
    },
    {
      name: 'pneumonia',
      auc: 0.76,
      positives: 5,
      points: [
        { fpr: 0, tpr: 0 },
        { fpr: 0.4, tpr: 0.8 },
        { fpr: 1, tpr: 1 }
      ]
    }
  ],
  auc: 0.76,
  notes: []
})

describe('ModelCurves', () => {
  it('asks for the initial model, draws one ROC line per class with its AUC and a confusion table with class names', async () => {
    const fake = fakeApi({ modelCurves: (r) => curves(r.modelId as string) })
    setApi(fake.api)
    const models = [
      { id: 'soup_a', label: 'soup: uniform' },
      { id: 'soup_g', label: 'soup: gog' },
      { id: 'mem_1', label: 'member: m1' }
    ]
    const w = mount(ModelCurves, { props: { runId: 'run_1', models, initial: 'soup_g' }, global: global() })
    await flushPromises()
    expect(fake.calls).toEqual([{ command: 'modelCurves', request: { runId: 'run_1', modelId: 'soup_g' } }])
    const option = w.findComponent(ChartStub).props('option') as { series: { name: string; data: number[][] }[] }
    expect(option.series.map((s) => s.name)).toEqual(['normal (AUC 0.760)', 'pneumonia (AUC 0.760)', 'chance'])
    expect(option.series[1].data).toEqual([
      [0, 0],
      [0.4, 0.8],
      [1, 1]
    ])
    const table = w.find('[data-test="confusion"]')
    expect(table.findAll('thead th').map((t) => t.text())).toEqual([
      'True class ↓ · predicted →',
      'normal',
      'pneumonia'
    ])
    expect(table.findAll('tbody tr').map((r) => r.findAll('td').map((c) => c.text()))).toEqual([
      ['4', '1'],
      ['2', '3']
    ])
    expect(w.text()).toContain('7 of 10 test images on the diagonal')
    await w.find('#fu-model').setValue('mem_1')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({ command: 'modelCurves', request: { runId: 'run_1', modelId: 'mem_1' } })
  })

  it('a multi-label model: a 2 × 2 count table per label instead of a confusion matrix', async () => {
    const multi: ModelCurvesReport = {
      ...curves('soup_m'),
      task: 'multilabel',
      confusion: null,
      labelCounts: [
        { name: 'effusion', tp: 3, fp: 1, fn: 2, tn: 4 },
        { name: 'edema', tp: 0, fp: 0, fn: 1, tn: 9 }
      ]
    }
    setApi(fakeApi({ modelCurves: () => multi }).api)
    const w = mount(ModelCurves, {
      props: { runId: 'run_1', models: [{ id: 'soup_m', label: 'soup' }] },
      global: global()
    })
    await flushPromises()
    expect(w.find('[data-test="confusion"]').exists()).toBe(false)
    expect(
      w
        .findAll('[data-test="label-counts"] tbody tr')
        .map((r) => [r.find('th').text(), ...r.findAll('td').map((c) => c.text())])
    ).toEqual([
      ['effusion', '3', '1', '2', '4'],
      ['edema', '0', '0', '1', '9']
    ])
  })

  it("shows the engine's reason when the model has no stored predictions", async () => {
    setApi(fakeApi({}).api)
    const w = mount(ModelCurves, {
      props: { runId: 'run_1', models: [{ id: 'mem_1', label: 'm1' }] },
      global: global()
    })
    await flushPromises()
    expect(w.text()).toContain('Loading the ROC curves failed: no fake for modelCurves')
    expect(w.find('[data-test="confusion"]').exists()).toBe(false)
  })
})

describe('MethodCompare', () => {
  const methods = [
    { method: 'best', label: 'Best individual' },
    { method: 'uniform', label: 'Uniform soup' },
    { method: 'gog', label: 'GoG' }
  ]
  const answer = (r: Record<string, unknown>): MethodComparison => ({
    a: r.a as string,
    b: r.b as string,
    metric: r.metric as string,
    n: 60,
    difference: -0.05,
    ci: [-0.1, 0.02],
    p: 0.21,
    resamples: 1000,
    undefinedResamples: 0
  })

  it('compares GoG with the best individual on the selection metric first, then any two chosen methods', async () => {
    const fake = fakeApi({ compareMethods: answer })
    setApi(fake.api)
    const w = mount(MethodCompare, { props: { jobId: 'job_f', methods, metric: 'f1' }, global: global() })
    await flushPromises()
    expect(fake.calls).toEqual([
      { command: 'compareMethods', request: { jobId: 'job_f', a: 'gog', b: 'best', metric: 'f1' } }
    ])
    expect(w.find('[data-test="comparison-numbers"]').text()).toMatch(
      /-0\.050\s*difference \(GoG − Best individual\)\s*\[-0\.100, 0\.020\]\s*95% CI\s*0\.210\s*p-value/
    )
    expect(w.find('[data-test="comparison"]').text()).toBe(
      'GoG scores 0.050 lower than Best individual on test macro-F1 (95% CI of the difference -0.100 to 0.020, p = 0.210): not a significant difference.'
    )
    await w.find('#fu-cmp-a').setValue('uniform')
    await w.find('#fu-cmp-b').setValue('gog')
    await w.find('#fu-cmp-metric').setValue('auc')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({
      command: 'compareMethods',
      request: { jobId: 'job_f', a: 'uniform', b: 'gog', metric: 'auc' }
    })
    expect(w.find('[data-test="comparison"]').text()).toMatch(
      /^Uniform soup scores 0\.050 lower than GoG on test AUROC/
    )
    await w.find('#fu-cmp-b').setValue('uniform')
    expect(w.text()).toContain('Choose two different methods.')
  })
})

describe('analysis store', () => {
  it('keeps the answer of the newest request when an older one arrives last', async () => {
    const resolvers: ((v: MethodComparison) => void)[] = []
    setApi(fakeApi({ compareMethods: () => new Promise<MethodComparison>((r) => resolvers.push(r)) }).api)
    createTestingPinia({ createSpy: vi.fn, stubActions: false })
    const store = useAnalysisStore()
    const first = store.compare({ jobId: 'j', a: 'gog', b: 'best' })
    const second = store.compare({ jobId: 'j', a: 'uniform', b: 'best' })
    await flushPromises()
    resolvers[1](answer2('uniform'))
    await second
    resolvers[0](answer2('gog'))
    await first
    expect(store.comparison?.a).toBe('uniform')
    expect(store.comparing).toBe(false)
  })
  const answer2 = (a: string): MethodComparison => ({
    a,
    b: 'best',
    metric: 'acc',
    n: 1,
    difference: 0,
    ci: [0, 0],
    p: 1,
    resamples: 1,
    undefinedResamples: 0
  })
})

describe('ImportWizard: the detected source', () => {
  const inspection = (split = 'fold'): DatasetInspection => ({
    format: 'csv',
    task: 'single',
    classes: ['mel', 'nev'],
    perClass: { mel: 2, nev: 3 },
    perSplit: { train: 3, val: 1, test: 1 },
    items: 5,
    ownSplit: true,
    defaultSize: 224,
    channels: 3,
    issues: [{ file: 'img/zz.png', reason: 'file not found in the chosen folder' }],
    issueCount: 1,
    columns: {
      manifest: 'labels.csv',
      header: ['filename', 'diagnosis', 'fold', 'age'],
      path: 'filename',
      label: 'diagnosis',
      labelKind: 'class',
      split
    }
  })

  it('inspects the chosen path, shows format, columns and classes; a corrected column is re-inspected and sent with the import', async () => {
    const fake = fakeApi({
      inspectDataset: (r) => inspection((r.columns as { split?: string } | undefined)?.split ?? 'fold'),
      startJob: (r) => ({ id: 'job_i', kind: r.kind, status: 'queued', params: r.params, progress: 0 })
    })
    setApi(fake.api)
    const w = mount(ImportWizard, { global: global({ app: { jobKinds: [{ kind: 'import', description: '' }] } }) })
    await w.find('#imp-path').setValue('/data/skin')
    await wait(450)
    await flushPromises()
    expect(fake.calls).toEqual([{ command: 'inspectDataset', request: { path: '/data/skin', format: 'auto' } }])
    const d = w.find('[data-test="detected"]')
    expect(d.find('[data-test="detected-format"]').text()).toBe('CSV manifest + images')
    expect((d.find('#imp-col-path').element as HTMLSelectElement).value).toBe('filename')
    expect((d.find('#imp-col-label').element as HTMLSelectElement).value).toBe('diagnosis')
    expect((d.find('#imp-col-split').element as HTMLSelectElement).value).toBe('fold')
    expect(d.find('[data-test="detected-classes"]').text()).toBe('Classes (2):mel · 2nev · 3')
    expect(d.text()).toContain('its own (3 train · 1 val · 1 test)')
    expect(d.text()).toContain('224 × 224 px')
    expect(d.text()).toContain('1 input(s) will not be imported')
    await d.find('#imp-col-split').setValue('age')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({
      command: 'inspectDataset',
      request: { path: '/data/skin', format: 'auto', columns: { split: 'age' } }
    })
    expect((w.find('#imp-col-split').element as HTMLSelectElement).value).toBe('age')
    await w.find('[data-test="import-start"]').trigger('click')
    await flushPromises()
    const start = fake.calls.find((c) => c.command === 'startJob')!
    expect(start.request).toMatchObject({ kind: 'import', params: { input: '/data/skin', columns: { split: 'age' } } })
  })
})

describe('NewRunView: the estimate', () => {
  const estimate = (seconds: number | null): RunEstimate => ({
    members: 4,
    groups: 2,
    epochs: 6,
    trainings: 4,
    workers: 2,
    backend: 'wasm',
    trainImages: 160,
    seconds,
    secondsPerImage: seconds === null ? null : 0.001,
    basis:
      seconds === null
        ? 'not measured yet: no finished smallcnn model at 28 × 28 px on wasm in this workspace (the first run measures it)'
        : 'median speed of 4 finished smallcnn models at 28 × 28 px on wasm in this workspace',
    memory:
      seconds === null
        ? {
            limitMiB: 4096,
            limitGiven: false,
            expectedPeakMiB: 3600,
            perImageMiB: 588,
            batchSize: 128,
            microBatch: 4,
            microBatches: 32,
            fits: true,
            message: null
          }
        : {
            limitMiB: 1000,
            limitGiven: true,
            expectedPeakMiB: 1200,
            perImageMiB: 588,
            batchSize: 128,
            microBatch: 0,
            microBatches: 0,
            fits: false,
            message: 'resnet50 at 224×224×3 needs about 1.17 GiB per engine process to train even one image at a time'
          }
  })

  it('asks the engine for members, epochs and time of the plan as set, and says where the speed comes from', async () => {
    let seconds: number | null = null
    const fake = fakeApi({
      listDatasets: () => [dataset()],
      listRuns: () => [],
      listPretrained: () => [],
      estimateRun: () => estimate(seconds)
    })
    setApi(fake.api)
    const w = mount(NewRunView, { global: global() })
    await flushPromises()
    await wait(300)
    await flushPromises()
    const asked = fake.calls.filter((c) => c.command === 'estimateRun')
    expect(asked).toHaveLength(1)
    expect(asked[0].request).toMatchObject({
      datasetId: 'ds_1',
      plan: 'fgg',
      arch: 'smallcnn',
      epochs: 50,
      fggEpochs: 17,
      cycle: 4,
      lrs: [1e-3, 5e-4, 1e-4, 5e-5, 1e-5, 5e-6, 1e-6, 1e-7]
    })
    const box = w.find('[data-test="estimate"]')
    expect(box.text()).toMatch(/4\s*models \(2 groups\)/)
    expect(box.text()).toMatch(/6\s*training epochs \(4 trainings of 160 images\)/)
    expect(box.find('[data-test="estimate-time"]').text()).toBe('not measured yet')
    expect(box.find('[data-test="estimate-basis"]').text()).toMatch(
      /^Speed: not measured yet: no finished smallcnn model/
    )
    expect(box.find('[data-test="estimate-memory"]').text()).toMatch(
      /^3\.52 GiB\s*expected peak memory per worker \(limit 4\.00 GiB, the default\);\s*batch 128 as 32 micro-batches of ≤ 4 images\s*\(588 MiB per image\)$/
    )
    expect(box.find('[data-test="estimate-memory-error"]').exists()).toBe(false)
    expect(asked[0].request).not.toHaveProperty('memoryLimitMiB')
    seconds = 125
    await w.find('#run-epochs').setValue('3')
    await w.find('#run-memory').setValue('1000')
    await wait(300)
    await flushPromises()
    expect(fake.calls.filter((c) => c.command === 'estimateRun').at(-1)!.request).toMatchObject({
      epochs: 3,
      memoryLimitMiB: 1000
    })
    expect(box.find('[data-test="estimate-memory-error"]').text()).toMatch(
      /needs about 1\.17 GiB per engine process to train even one image/
    )
    expect(box.find('[data-test="estimate-time"]').text()).toBe('≈ 2 min 5 s')
    expect(box.text()).toContain('estimated time on wasm (2 at once)')
  })
})

describe('RunPicker', () => {
  it('lists the runs, selects the chosen one in the runs store and says so', async () => {
    const fake = fakeApi({ getRun: () => ({ run: {}, members: [], soups: [] }), listEvaluations: () => [] })
    setApi(fake.api)
    const runs = [
      { id: 'run_1', name: 'fgg', kind: 'fgg' },
      { id: 'run_2', name: 'grid', kind: 'grid' }
    ]
    const w = mount(RunPicker, {
      props: { id: 'x-run' },
      global: global({ runs: { list: runs, selectedId: 'run_1' } })
    })
    expect(w.find('label').attributes('for')).toBe('x-run')
    expect(w.findAll('option').map((o) => o.text())).toEqual(['fgg · fgg', 'grid · grid'])
    await w.find('#x-run').setValue('run_2')
    await flushPromises()
    expect(fake.calls.map((c) => c.command)).toContain('getRun')
    expect(w.emitted('picked')).toEqual([['run_2']])
  })

  it("shows each run's status on request", () => {
    const runs = [{ id: 'run_1', name: 'fgg', kind: 'fgg', status: 'running' }]
    const w = mount(RunPicker, {
      props: { id: 'tr-run', showStatus: true },
      global: global({ runs: { list: runs, selectedId: 'run_1' } })
    })
    expect(w.findAll('option').map((o) => o.text())).toEqual(['fgg · fgg · running'])
  })
})
