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
import JobStatus from '../../../src/renderer/src/components/JobStatus.vue'
import LabelledSelect from '../../../src/renderer/src/components/LabelledSelect.vue'
import ProgressBar from '../../../src/renderer/src/components/ProgressBar.vue'
import MembersView from '../../../src/renderer/src/views/MembersView.vue'
import { job, dataset, member } from '../records'
import { readBackend } from '../../../src/renderer/src/stores/app'
import type { JobRecord } from '../../../src/shared/api'
import { setApi } from '../../../src/renderer/src/api'
import { fakeApi } from '../fake-api'
import { flushPromises } from '@vue/test-utils'

const PNG = 'data:image/png;base64,iVBORw0KGgo='

/** The chart, stubbed: records the option it was given instead of drawing. */
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
  plugins: [createTestingPinia({ createSpy: vi.fn, initialState })],
  stubs: { AppChart: ChartStub }
})

describe('DatasetSummary', () => {
  it('shows counts per split, the class chart, thumbnails, and the files the import could not use', async () => {
    const fake = fakeApi({ datasetThumbnails: () => ({ normal: [PNG, PNG], pneumonia: [PNG], empty: [] }) })
    setApi(fake.api)
    const d = dataset()
    const importJob = job({
      kind: 'import',
      status: 'completed',
      datasetId: d.id,
      result: { errors: [{ file: 'train/normal/x.png', reason: 'not an image' }] }
    })
    const wrapper = mount(DatasetSummary, {
      props: { dataset: d },
      global: global({ jobs: { jobs: { [importJob.id]: importJob } } })
    })
    await flushPromises()
    expect(fake.calls).toEqual([{ command: 'datasetThumbnails', request: { id: 'ds_1' } }])
    expect(wrapper.findAll('.thumb-class').map((c) => [c.find('span').text(), c.findAll('img').length])).toEqual([
      ['normal', 2],
      ['pneumonia', 1]
    ])
    const text = wrapper.text()
    expect(text).toContain('40train images')
    expect(text).toContain('28 × 28pixels')
    const chart = wrapper.findComponent(ChartStub)
    const series = (chart.props('option') as { series: { name: string; data: number[] }[] }).series
    expect(series.map((s) => [s.name, s.data])).toEqual([
      ['train', [12, 28]],
      ['val', [3, 7]],
      ['test', [5, 7]]
    ])
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
      list: [
        {
          id: 'run_1',
          name: 'fgg',
          datasetId: 'ds_1',
          kind: 'fgg',
          status: 'done',
          config: {},
          createdAt: '',
          updatedAt: ''
        }
      ],
      selectedId: 'run_1',
      detail: { run: { id: 'run_1' }, members, soups: [] },
      metrics: {
        m2: [
          { memberId: 'm2', epoch: 1, name: 'val_f1', value: 0.5 },
          { memberId: 'm2', epoch: 2, name: 'val_f1', value: 0.61 }
        ]
      },
      evaluations: [
        {
          id: 1,
          memberId: 'm1',
          soupId: null,
          datasetId: 'ds_1',
          split: 'test',
          metric: 'auroc',
          value: 0.8,
          ciLo: 0.7,
          ciHi: 0.9,
          n: 12,
          createdAt: ''
        }
      ]
    }
  }
  const names = (w: ReturnType<typeof mount>): string[] => w.findAll('tbody tr').map((r) => r.find('td').text())

  it('sorts by validation score (best first, unscored last), then by any clicked column', async () => {
    const wrapper = mount(MembersView, { global: global(state) })
    expect(names(wrapper)).toEqual(['b', 'a', 'c'])
    await wrapper
      .findAll('th')
      .find((th) => th.text().startsWith('Learning rate'))!
      .trigger('click')
    expect(names(wrapper)).toEqual(['b', 'c', 'a'])
    await wrapper
      .findAll('th')
      .find((th) => th.text().startsWith('Learning rate'))!
      .trigger('click')
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
  const fallback = {
    backend: 'cpu',
    device: 'cpu',
    threads: 1,
    fallbacks: [{ backend: 'wasm', reason: 'no WebAssembly' }],
    warning: 'running on the pure-JS cpu backend'
  }

  it('always shows the backend, amber on a fallback, with a banner that says why', () => {
    const g = global({ app: { backend: fallback } })
    const badge = mount(BackendBadge, { global: g })
    expect(badge.find('[data-test="backend"]').text()).toBe('CPU · pure JavaScript, 1 thread')
    expect(badge.find('[data-test="backend"]').classes()).toContain('fallback')
    const banner = mount(BackendBanner, { global: g })
    expect(banner.text()).toContain('running on the pure-JS cpu backend')
    expect(banner.text()).toContain('wasm: no WebAssembly')
  })

  it('shows no banner on the normal CPU path (a GPU package that is not installed is no fallback), and says when the backend is unknown', () => {
    const normal = {
      backend: 'wasm',
      device: 'cpu',
      threads: 1,
      fallbacks: [{ backend: 'tensorflow', reason: '@tensorflow/tfjs-node-gpu: not installed' }],
      compute: 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 1 thread)',
      native: { loaded: true, blas: 'AVX-512, OpenBLAS 0.3.21' }
    }
    expect(
      mount(BackendBanner, { global: global({ app: { backend: readBackend(normal) } }) })
        .find('[data-test="backend-banner"]')
        .exists()
    ).toBe(false)
    expect(
      mount(BackendBadge, { global: global({ app: { backend: readBackend(normal) } }) })
        .find('[data-test="backend"]')
        .classes()
    ).not.toContain('fallback')
    const best = mount(BackendBanner, {
      global: global({ app: { backend: { ...fallback, backend: 'wasm', fallbacks: [], warning: undefined } } })
    })
    expect(best.find('[data-test="backend-banner"]').exists()).toBe(false)
    const unknown = mount(BackendBadge, { global: global({ app: { backend: null, backendProblem: 'not reported' } }) })
    expect(unknown.text()).toContain('Backend unknown')
  })
})

describe('compute path in the top bar', () => {
  // Shaped as the engine's BackendInfo reports it (src/main/engine/compute/index.ts).
  const base = {
    backend: 'wasm',
    device: 'cpu',
    threads: 1,
    fallbacks: [{ backend: 'tensorflow', reason: '@tensorflow/tfjs-node: not installed' }],
    kernels: []
  }
  const native = {
    ...base,
    compute: 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 1 thread)',
    native: { loaded: true, blas: 'AVX-512, OpenBLAS 0.3.21' }
  }
  const reason = 'native addon not built: g++: command not found'
  const jsKernels = {
    ...base,
    compute: `wasm + JS kernels: ${reason}`,
    native: { loaded: false, reason },
    warning: `wasm backend without native kernels (${reason}; JS kernels train ~3x slower)`
  }
  const badge = (report: Record<string, unknown>): ReturnType<typeof mount> =>
    mount(BackendBadge, { global: global({ app: { backend: readBackend(report) } }) })

  it("names the native-kernel path plainly, the engine's sentence and the skipped backends in the tooltip, and no warning badge", () => {
    const w = badge(native)
    expect(w.find('[data-test="backend"]').text()).toBe('CPU · native kernels, AVX-512, 1 thread per worker')
    expect(w.find('[data-test="backend"]').attributes('title')).toContain(native.compute)
    expect(w.find('[data-test="backend"]').attributes('title')).toContain(
      'tensorflow not used: @tensorflow/tfjs-node: not installed'
    )
    expect(w.find('[data-test="compute-warning"]').exists()).toBe(false)
  })

  it('says when the JS kernels run instead: short form, the reason in the tooltip, a warning badge and the banner', () => {
    const w = badge(jsKernels)
    expect(w.find('[data-test="backend"]').text()).toBe('CPU · JS kernels, 1 thread per worker')
    expect(w.find('[data-test="backend"]').attributes('title')).toContain(`wasm + JS kernels: ${reason}`)
    const warn = w.find('[data-test="compute-warning"]')
    expect(warn.text()).toBe('Slower path: JS kernels')
    expect(warn.attributes('title')).toBe(jsKernels.warning)
    expect(w.find('[data-test="backend"]').classes()).toContain('fallback')
    const banner = mount(BackendBanner, { global: global({ app: { backend: readBackend(jsKernels) } }) })
    expect(banner.text()).toContain(`JS kernels train ~3x slower`)
  })

  it('flags the pure-JS cpu backend', () => {
    const w = badge({
      ...base,
      backend: 'cpu',
      compute: 'cpu (pure JS)',
      warning: 'running on the pure-JS cpu backend: training is ~1000x slower'
    })
    expect(w.find('[data-test="backend"]').text()).toBe('CPU · pure JavaScript, 1 thread')
    expect(w.find('[data-test="compute-warning"]').text()).toBe('Slower path: pure-JS cpu backend')
  })
})

describe('JobStatus', () => {
  const mountStatus = (
    props: { kind: string; what?: string; job?: JobRecord; stopped?: string; hint?: string; keepDone?: boolean },
    kinds: string[] = ['fuse'],
    jobsError: unknown = null
  ): ReturnType<typeof mount> =>
    mount(JobStatus, {
      props,
      global: {
        plugins: [
          createTestingPinia({
            createSpy: vi.fn,
            stubActions: false,
            initialState: {
              app: { jobKinds: kinds.map((kind) => ({ kind, description: '' })) },
              jobs: { error: jobsError }
            }
          })
        ]
      }
    })

  it("shows a running job's progress, and hides it once done unless asked to keep it", () => {
    const running = mountStatus({
      kind: 'fuse',
      what: 'Fusing.',
      job: job({ status: 'running', progress: 0.25, phase: 'greedy soup' }),
      stopped: 'Fusion stopped'
    })
    expect(running.find('[role="progressbar"]').attributes('aria-label')).toBe('greedy soup')
    expect(running.text()).toContain('25%')
    expect(running.find('.not-available').exists()).toBe(false)
    expect(running.find('[role="alert"]').exists()).toBe(false)
    const done = job({ status: 'completed', progress: 1 })
    expect(
      mountStatus({ kind: 'fuse', job: done, stopped: 'Fusion stopped' }).find('[role="progressbar"]').exists()
    ).toBe(false)
    expect(
      mountStatus({ kind: 'fuse', job: done, stopped: 'Fusion stopped', keepDone: true })
        .find('[role="progressbar"]')
        .exists()
    ).toBe(true)
  })

  it("says why a job stopped (with the hint), and the last job action's error", () => {
    const failed = job({ status: 'failed', progress: 0.5, error: 'out of memory', exitReason: 'exit code 137' })
    const w = mountStatus(
      {
        kind: 'fission',
        job: failed,
        stopped: 'Training stopped',
        hint: 'You can resume it from its last checkpoint.'
      },
      ['fission'],
      { message: 'Starting the job failed' }
    )
    const alerts = w.findAll('[role="alert"]')
    expect(alerts.map((a) => a.find('strong').text())).toEqual([
      'Training stopped: out of memory. You can resume it from its last checkpoint.',
      'Starting the job failed'
    ])
    expect(alerts[0].find('pre').text()).toBe('exit code 137')
    expect(
      mountStatus({ kind: 'fuse', job: job({ status: 'failed' }), stopped: 'The export stopped' })
        .find('strong')
        .text()
    ).toBe('The export stopped: unknown reason')
  })

  it('says when the engine does not offer the job kind, only where it says what the job does', () => {
    const missing = mountStatus({ kind: 'export', what: 'Exporting a merged model.' })
    expect(missing.find('.not-available').text()).toContain('Exporting a merged model.')
    expect(missing.find('.not-available').text()).toContain("Needs: job kind 'export'")
    expect(mountStatus({ kind: 'export' }).find('.not-available').exists()).toBe(false)
  })
})

describe('LabelledSelect', () => {
  it('labels the select, shows the chosen option and reports a new choice', async () => {
    const options = [
      { id: 'a', label: 'Alpha' },
      { id: 'b', label: 'Beta' }
    ]
    const w = mount(LabelledSelect, { props: { id: 'x-pick', label: 'Pick', value: 'b', options } })
    expect(w.find('label').attributes('for')).toBe('x-pick')
    expect(w.find('label').text()).toBe('Pick')
    expect((w.find('#x-pick').element as HTMLSelectElement).value).toBe('b')
    expect(w.findAll('option').map((o) => o.text())).toEqual(['Alpha', 'Beta'])
    await w.find('#x-pick').setValue('a')
    expect(w.emitted('choose')).toEqual([['a']])
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
    const w = mount(ErrorNote, {
      props: { error: { message: 'The import failed: folder not found', details: 'ENOENT /x' } }
    })
    expect(w.find('strong').text()).toBe('The import failed: folder not found')
    expect(w.find('details pre').text()).toBe('ENOENT /x')
    await w.find('button').trigger('click')
    expect(w.emitted('dismiss')).toHaveLength(1)
    expect(w.emitted('update:error')).toEqual([[null]])
    await w.setProps({ error: null })
    expect(w.find('[role="alert"]').exists()).toBe(false)
  })

  it("ErrorNote with v-model:error clears a store's error on Dismiss", async () => {
    const w = mount(MembersView, {
      global: global({ runs: { list: [], detail: null, error: { message: 'Loading the runs failed' } } })
    })
    expect(w.find('[role="alert"] strong').text()).toBe('Loading the runs failed')
    await w.find('[role="alert"] button').trigger('click')
    expect(w.find('[role="alert"]').exists()).toBe(false)
  })

  it('AppChart labels its chart for assistive technology and tests', () => {
    const w = mount(AppChart, {
      props: { option: {}, label: 'Loss curves', height: 200 },
      global: { stubs: { Echarts: true } }
    })
    expect(w.attributes('aria-label')).toBe('Loss curves')
    expect(w.attributes('style')).toContain('height: 200px')
  })
})
