// @vitest-environment happy-dom
// The New run view's executor choice: this machine (the default, no executor sent) or a Slurm
// job array with the partition and time limit typed (the rest from the workspace's slurm.json).
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createTestingPinia } from '@pinia/testing'
import { setApi } from '../../../src/renderer/src/api'
import NewRunView from '../../../src/renderer/src/views/NewRunView.vue'
import { fakeApi } from '../fake-api'
import { dataset } from '../records'

const global = () => ({
  plugins: [
    createTestingPinia({
      createSpy: vi.fn,
      stubActions: false,
      initialState: { app: { jobKinds: [{ kind: 'fission', description: '', resumable: true }] } }
    })
  ],
  stubs: { AppChart: true }
})

async function started(choose: (w: ReturnType<typeof mount>) => Promise<void>): Promise<Record<string, unknown>> {
  const fake = fakeApi({
    listDatasets: () => [dataset()],
    listRuns: () => [],
    estimateRun: () => null,
    startJob: (r) => ({ id: 'job_1', kind: 'fission', status: 'queued', params: r.params })
  })
  setApi(fake.api)
  const w = mount(NewRunView, { global: global() })
  await flushPromises()
  await choose(w)
  const button = w.find('[data-test="run-start"]')
  expect(button.attributes('disabled')).toBeUndefined()
  await button.trigger('click')
  await flushPromises()
  const call = fake.calls.find((c) => c.command === 'startJob')!
  return (call.request as { params: Record<string, unknown> }).params
}

describe('NewRunView: where to train', () => {
  it('trains on this machine by default (no executor sent) and hides the Slurm fields', async () => {
    const params = await started(async (w) => {
      expect(w.find('#run-partition').exists()).toBe(false)
    })
    expect(params.executor).toBeUndefined()
    expect(params.slurm).toBeUndefined()
  })

  it('sends executor slurm with the partition and time limit typed', async () => {
    const params = await started(async (w) => {
      await w.find('#run-executor').setValue('slurm')
      await w.find('#run-partition').setValue(' gpu ')
      await w.find('#run-time').setValue('2:00:00')
    })
    expect(params).toMatchObject({ executor: 'slurm', slurm: { partition: 'gpu', time: '2:00:00' } })
  })
})
