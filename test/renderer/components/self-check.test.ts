// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createTestingPinia } from '@pinia/testing'
import AboutBox from '../../../src/renderer/src/components/AboutBox.vue'
import SelfCheckPanel from '../../../src/renderer/src/components/SelfCheckPanel.vue'
import { RESEARCH_USE_STATEMENT } from '../../../src/shared/notices'

const global = (app: Record<string, unknown>) => ({
  plugins: [createTestingPinia({ createSpy: vi.fn, initialState: { app } })]
})

describe('start-up self-check panel', () => {
  it('lists what failed or warns, with what to do, and can be dismissed', async () => {
    const selfCheck = {
      ok: false,
      checks: [
        { id: 'database', label: 'Database', status: 'ok', detail: 'schema version 1, integrity ok' },
        {
          id: 'workspace',
          label: 'Workspace folder',
          status: 'fail',
          detail: 'cannot write: EROFS: read-only file system',
          action: "Free disk space or fix the folder's permissions"
        },
        { id: 'kernels', label: 'Native kernels', status: 'warn', detail: 'not in use: native addon not built' }
      ]
    }
    const w = mount(SelfCheckPanel, { global: global({ selfCheck }) })
    expect(w.find('[data-test="self-check"]').exists()).toBe(true)
    expect(w.find('[data-test="self-check-database"]').exists()).toBe(false)
    expect(w.find('[data-test="self-check-workspace"]').text()).toContain('cannot write: EROFS')
    expect(w.find('[data-test="self-check-workspace"]').text()).toContain('What to do: Free disk space')
    expect(w.find('[data-test="self-check-kernels"]').text()).toContain('warning')
    await w.find('button').trigger('click')
    expect(w.find('[data-test="self-check"]').exists()).toBe(false)
  })

  it("shows nothing when every check passed (warnings alone are the top bar's job) or before it answered", () => {
    const ok = { ok: true, checks: [{ id: 'kernels', label: 'Native kernels', status: 'warn', detail: 'JS kernels' }] }
    expect(
      mount(SelfCheckPanel, { global: global({ selfCheck: ok }) })
        .find('[data-test="self-check"]')
        .exists()
    ).toBe(false)
    expect(
      mount(SelfCheckPanel, { global: global({ selfCheck: null }) })
        .find('[data-test="self-check"]')
        .exists()
    ).toBe(false)
  })

  it('About states the version and that the app is for research use only, not a medical device', async () => {
    const w = mount(AboutBox, {
      global: global({ workspace: { dir: '/w', schemaVersion: 1, appVersion: '0.2.0', counts: {} } })
    })
    await w.find('[data-test="about-button"]').trigger('click')
    expect(w.find('[data-test="about"]').text()).toContain('0.2.0')
    expect(w.find('[data-test="about"]').text()).toContain(RESEARCH_USE_STATEMENT)
  })
})
