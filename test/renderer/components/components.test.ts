// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createTestingPinia } from '@pinia/testing'
import { defineComponent, h } from 'vue'
import type { PropType } from 'vue'
import AppChart from '../../../src/renderer/src/components/AppChart.vue'
import BackendBadge from '../../../src/renderer/src/components/BackendBadge.vue'
import BackendBanner from '../../../src/renderer/src/components/BackendBanner.vue'
import DatasetSummary from '../../../src/renderer/src/components/DatasetSummary.vue'
import ErrorNote from '../../../src/renderer/src/components/ErrorNote.vue'
import ProgressBar from '../../../src/renderer/src/components/ProgressBar.vue'
import MembersView from '../../../src/renderer/src/views/MembersView.vue'
import { job, dataset, member } from '../records'
import { setApi } from '../../../src/renderer/src/api'
import { fakeApi } from '../fake-api'
import { flushPromises } from '@vue/test-utils'

const PNG = 'data:image/png;base64,iVBORw0KGgo='

/** The chart, stubbed: records the option it was given instead of drawing. */
const ChartStub = defineComponent({
  name: 'AppChart',
  props: { option: { type: Object as PropType<Record<string, unknown>>, required: true }, label: { type: String, required: true }, height: { type: Number, default: 280 } },
  setup: (props) => () => h('div', { class: 'chart-stub', 'data-label': props.label })
})
const global = (initialState: Record<string, unknown> = {}) => ({
  plugins: [createTestingPinia({ createSpy: vi.fn, initialState })],
  stubs: { AppChart: ChartStub }
})

describe('DatasetSummary', () => {
  it('shows counts per split, the class chart, thumbnails, and the files the import could not use', async () => {
    const fake = fakeApi({ datasetThumbnails: () => ({ normal: [PNG, PNG], pneumonia: [PNG], empty: [] }) })
    setApi(fake.api)
    const d = dataset()
    const importJob = job({ kind: 'import', status: 'completed', datasetId: d.id, result: { errors: [{ file: 'train/normal/x.png', reason: 'not an image' }] } })
    const wrapper = mount(DatasetSummary, { props: { dataset: d }, global: global({ jobs: { jobs: { [importJob.id]: importJob } } }) })
    await flushPromises()
    expect(fake.calls).toEqual([{ command: 'datasetThumbnails', request: { id: 'ds_1' } }])
    expect(wrapper.findAll('.thumb-class').map((c) => [c.find('span').text(), c.findAll('img').length])).toEqual([['normal', 2], ['pneumonia', 1]])
    const text = wrapper.text()
    expect(text).toContain('40train images')
    expect(text).toContain('28 × 28pixels')
    const chart = wrapper.findComponent(ChartStub)
    const series = (chart.props('option') as { series: { name: string; data: number[] }[] }).series
    expect(series.map((s) => [s.name, s.data])).toEqual([['train', [12, 28]], ['val', [3, 7]], ['test', [5, 7]]])
    expect(wrapper.find('table').text()).toContain('train/normal/x.png')
    expect(wrapper.find('table').text()).toContain('not an image')
  })

  it('says so when nothing failed, and why thumbnails are missing', async () => {
    setApi(fakeApi({}).api)
    const wrapper = mount(DatasetSummary, { props: { dataset: dataset() }, global: global() })
    await flushPromises()
    expect(wrapper.text()).toContain('None: every file was imported.')
    expect(wrapper.text()).toContain('Loading the example images failed: no fake for datasetThumbnails')
  })
})

describe('MembersView', () => {
  const members = [
    member({ id: 'm1', name: 'a', valScore: 0.7, hyperparams: { lr: 1e-3 } }),
    member({ id: 'm2', name: 'b', valScore: 0.9, hyperparams: { lr: 1e-5 } }),
    member({ id: 'm3', name: 'c', valScore: null, hyperparams: { lr: 1e-4 } })
  ]
  const state = {
    runs: {
      list: [{ id: 'run_1', name: 'fgg', datasetId: 'ds_1', kind: 'fgg', status: 'done', config: {}, createdAt: '', updatedAt: '' }],
      selectedId: 'run_1',
      detail: { run: { id: 'run_1' }, members, soups: [] },
      metrics: { m2: [{ memberId: 'm2', epoch: 1, name: 'val_f1', value: 0.5 }, { memberId: 'm2', epoch: 2, name: 'val_f1', value: 0.61 }] },
      evaluations: [{ id: 1, memberId: 'm1', soupId: null, datasetId: 'ds_1', split: 'test', metric: 'auroc', value: 0.8, ciLo: 0.7, ciHi: 0.9, n: 12, createdAt: '' }]
    }
  }
  const names = (w: ReturnType<typeof mount>): string[] => w.findAll('tbody tr').map((r) => r.find('td').text())

  it('sorts by validation score (best first, unscored last), then by any clicked column', async () => {
    const wrapper = mount(MembersView, { global: global(state) })
    expect(names(wrapper)).toEqual(['b', 'a', 'c'])
    await wrapper.findAll('th').find((th) => th.text().startsWith('Learning rate'))!.trigger('click')
    expect(names(wrapper)).toEqual(['b', 'c', 'a'])
    await wrapper.findAll('th').find((th) => th.text().startsWith('Learning rate'))!.trigger('click')
    expect(names(wrapper)).toEqual(['a', 'c', 'b'])
  })

  it('shows hyperparameters and test metrics with their confidence interval', () => {
    const text = mount(MembersView, { global: global(state) }).text()
    expect(text).toContain('1e-3')
    expect(text).toContain('test · auroc')
    expect(text).toContain('Val macro-F1 (last epoch)')
    expect(text).toContain('0.610')
    expect(text).toMatch(/0\.800\s*\[0\.700, 0\.900\]/)
  })
})

describe('backend display', () => {
  const fallback = { backend: 'cpu', device: 'cpu', threads: 1, fallbacks: [{ backend: 'wasm', reason: 'no WebAssembly' }], warning: 'running on the pure-JS cpu backend' }

  it('always shows the backend, amber on a fallback, with a banner that says why', () => {
    const g = global({ app: { backend: fallback } })
    const badge = mount(BackendBadge, { global: g })
    expect(badge.find('[data-test="backend"]').text()).toBe('Backend: cpu · CPU · 1 thread')
    expect(badge.find('[data-test="backend"]').classes()).toContain('fallback')
    const banner = mount(BackendBanner, { global: g })
    expect(banner.text()).toContain('running on the pure-JS cpu backend')
    expect(banner.text()).toContain('wasm: no WebAssembly')
  })

  it('shows no banner on the best backend, and says when the backend is unknown', () => {
    const best = mount(BackendBanner, { global: global({ app: { backend: { ...fallback, backend: 'wasm', fallbacks: [], warning: undefined } } }) })
    expect(best.find('[data-test="backend-banner"]').exists()).toBe(false)
    const unknown = mount(BackendBadge, { global: global({ app: { backend: null, backendProblem: 'not reported' } }) })
    expect(unknown.text()).toContain('Backend unknown')
  })
})

describe('small components', () => {
  it('ProgressBar shows the percentage and the time left', () => {
    const w = mount(ProgressBar, { props: { fraction: 0.426, label: 'epoch 3/7', etaSeconds: 250 } })
    expect(w.text()).toContain('epoch 3/7')
    expect(w.text()).toContain('43%')
    expect(w.text()).toContain('about 4 min 10 s left')
    expect(w.attributes('aria-valuenow')).toBe('43')
  })

  it('ErrorNote shows the sentence and folds the details away', async () => {
    const w = mount(ErrorNote, { props: { error: { message: 'The import failed: folder not found', details: 'ENOENT /x' } } })
    expect(w.find('strong').text()).toBe('The import failed: folder not found')
    expect(w.find('details pre').text()).toBe('ENOENT /x')
    await w.find('button').trigger('click')
    expect(w.emitted('dismiss')).toHaveLength(1)
  })

  it('AppChart labels its chart for assistive technology and tests', () => {
    const w = mount(AppChart, { props: { option: {}, label: 'Loss curves', height: 200 }, global: { stubs: { Echarts: true } } })
    expect(w.attributes('aria-label')).toBe('Loss curves')
    expect(w.attributes('style')).toContain('height: 200px')
  })
})
