// @vitest-environment happy-dom
// The New run view's "Import weights": the path goes to an 'import-weights' job; once it has
// finished, the imported network is listed (name, architecture, origin file, size), becomes the
// starting point, and fixes the architecture.
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createTestingPinia } from '@pinia/testing'
import type { PretrainedNetwork } from '../../../src/shared/api'
import { setApi } from '../../../src/renderer/src/api'
import { useJobsStore } from '../../../src/renderer/src/stores/jobs'
import NewRunView from '../../../src/renderer/src/views/NewRunView.vue'
import { fakeApi } from '../fake-api'
import { dataset, job } from '../records'

const network: PretrainedNetwork = {
  id: 'pt-0123456789',
  name: 'resnet50-imagenet',
  arch: 'resnet50',
  numClasses: 1000,
  origin: { file: 'resnet50.onnx', format: 'onnx', sha256: 'ab'.repeat(32), bytes: 1 },
  preprocessing: {
    size: [224, 224],
    channels: 3,
    channelOrder: 'RGB',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225]
  },
  tensors: { matched: 1, reshaped: 320, skipped: 0 },
  importedAt: '2026-11-30T10:00:00.000Z'
}

describe('New run: import weights', () => {
  it('starts an import-weights job with the path, then offers the network as the starting point with its architecture', async () => {
    let imported: PretrainedNetwork[] = []
    const fake = fakeApi({
      listDatasets: () => [dataset()],
      listRuns: () => [],
      listPretrained: () => imported,
      estimateRun: () => null,
      startJob: (r) => job({ id: 'job_w', kind: r.kind as string, status: 'running' })
    })
    setApi(fake.api)
    const w = mount(NewRunView, { global: { plugins: [createTestingPinia({ createSpy: vi.fn, stubActions: false })] } })
    await flushPromises()
    await w.find('#run-weights').setValue('/data/resnet50.onnx')
    const importButton = w.findAll('button').find((b) => b.text() === 'Import')!
    await importButton.trigger('click')
    await flushPromises()
    expect(fake.calls.find((c) => c.command === 'startJob')?.request).toEqual({
      kind: 'import-weights',
      params: { path: '/data/resnet50.onnx' }
    })
    expect(w.text()).toContain('Importing…')
    imported = [network]
    Object.assign(useJobsStore().jobs.job_w, { status: 'completed', result: { model: { id: network.id } } })
    await flushPromises()
    await flushPromises()
    const start = w.find('#run-start').element as HTMLSelectElement
    expect(start.value).toBe(network.id)
    expect(w.find('#run-start').text()).toContain('imported resnet50-imagenet (resnet50, resnet50.onnx, 224×224 px)')
    expect((w.find('#run-arch').element as HTMLSelectElement).value).toBe('resnet50')
    expect(w.text()).toContain('Imported: now the starting point')
  })
})
