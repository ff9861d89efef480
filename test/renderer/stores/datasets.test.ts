// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestingPinia } from '@pinia/testing'
import { setApi } from '../../../src/renderer/src/api'
import { metaField, perClassOf, useDatasetsStore } from '../../../src/renderer/src/stores/datasets'
import { useAppStore, readBackend } from '../../../src/renderer/src/stores/app'
import { fakeApi } from '../fake-api'
import { dataset } from '../records'

beforeEach(() => {
  createTestingPinia({ stubActions: false, createSpy: vi.fn })
})

describe('datasets store', () => {
  it('loads the list and selects the newest dataset, keeping a selection that still exists', async () => {
    const list = [dataset({ id: 'ds_2', name: 'retina' }), dataset()]
    setApi(fakeApi({ listDatasets: () => list }).api)
    const store = useDatasetsStore()
    await store.load()
    expect(store.selected?.name).toBe('retina')
    store.select('ds_1')
    await store.load()
    expect(store.selected?.name).toBe('pneumonia')
    expect(store.ready.length).toBe(2)
  })

  it('says why loading failed instead of showing an empty list as if it were true', async () => {
    setApi(fakeApi({}).api)
    const store = useDatasetsStore()
    await store.load()
    expect(store.error?.message).toMatch(/^Loading the datasets failed: no fake for listDatasets/)
  })

  it('reads per-class counts and fields from meta, dropping malformed values', () => {
    expect(perClassOf({ perClass: { train: { a: 2, b: 'x' }, val: null } })).toEqual({ train: { a: 2 } })
    expect(perClassOf(null)).toEqual({})
    expect(metaField(dataset().meta, 'size')).toBe('28 × 28')
    expect(metaField(dataset().meta, 'missing')).toBeUndefined()
  })
})

describe('app store', () => {
  it('loads the workspace and the job kinds the engine offers', async () => {
    setApi(
      fakeApi({
        workspaceInfo: () => ({
          dir: '/ws',
          schemaVersion: 1,
          appVersion: '0.1.0',
          counts: { datasets: 0, runs: 0, members: 0, soups: 0, jobs: 0 }
        }),
        listJobKinds: () => [{ kind: 'selftest', description: 'checks the job machinery' }]
      }).api
    )
    const app = useAppStore()
    await app.load()
    expect(app.workspace?.dir).toBe('/ws')
    expect(app.hasJobKind('selftest')).toBe(true)
    expect(app.hasJobKind('fission')).toBe(false)
    expect(app.error).toBeNull()
  })

  it('accepts a backend description only when it has the expected shape', () => {
    expect(
      readBackend({
        backend: 'wasm',
        device: 'cpu',
        threads: 1,
        fallbacks: [{ backend: 'tensorflow', reason: 'not installed' }, 3]
      })
    ).toEqual({
      backend: 'wasm',
      device: 'cpu',
      threads: 1,
      fallbacks: [{ backend: 'tensorflow', reason: 'not installed' }],
      warning: undefined,
      compute: undefined,
      native: undefined
    })
    const compute = 'wasm + JS kernels: turned off by FF_NATIVE=0'
    expect(
      readBackend({
        backend: 'wasm',
        device: 'cpu',
        threads: 1,
        fallbacks: [],
        compute,
        native: { loaded: false, reason: 'turned off by FF_NATIVE=0' }
      })
    ).toMatchObject({
      compute,
      native: { loaded: false, blas: undefined, reason: 'turned off by FF_NATIVE=0' }
    })
    expect(
      readBackend({ backend: 'wasm', device: 'cpu', threads: 1, compute: 3, native: { blas: 'AVX2' } })
    ).toMatchObject({ compute: undefined, native: undefined })
    expect(readBackend({ backend: 'wasm' })).toBeNull()
    expect(readBackend('wasm')).toBeNull()
  })
})
