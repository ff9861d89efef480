// Backend selection: order, forced choices, env FF_BACKEND, idempotence, loud cpu warning.
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { afterEach, describe, expect, it } from 'vitest'
import { backendInfo, initBackend } from '../../../../src/main/engine/compute'
import { nativeKernelSet, wasmKernelConfigs } from '../../../../src/main/engine/compute/kernels'
import { loadNative } from '../../../../src/main/engine/compute/native'

const native = loadNative()
// The kernels initBackend registers: the native set when the addon is built (always in CI).
const expectedKernels = (native.loaded ? nativeKernelSet(native.addon) : wasmKernelConfigs).map((k) => k.kernelName)

const resolvable = (pkg: string): boolean => {
  try {
    createRequire(import.meta.url).resolve(pkg)
    return true
  } catch {
    return false
  }
}
const hasTensorflow = resolvable('@tensorflow/tfjs-node-gpu') || resolvable('@tensorflow/tfjs-node')

afterEach(() => {
  delete process.env.FF_BACKEND
  delete process.env.FF_NATIVE
})

describe('initBackend', () => {
  it('auto: tensorflow if importable, else wasm with our kernels, saying why tensorflow was skipped', async () => {
    const info = await initBackend()
    expect(info.requested).toBe('auto')
    expect(info.tfjsVersion).toBe(tf.version_core)
    expect(tf.getBackend()).toBe(info.backend)
    if (hasTensorflow) {
      expect(info.backend).toBe('tensorflow')
      return
    }
    expect(info.backend).toBe('wasm')
    expect(info.device).toBe('cpu')
    expect(info.threads).toBe(1)
    expect(info.simd).toBe(true)
    if (process.env.CI === 'true') expect(native.loaded ? 'loaded' : native.reason).toBe('loaded')
    if (native.loaded) {
      expect(info.warning).toBeUndefined()
      expect(info.compute).toMatch(/^wasm \+ native kernels \((AVX-512|AVX2|generic), OpenBLAS [0-9.]+, 1 thread\)$/)
      expect(info.native).toEqual({ loaded: true, blas: native.blas })
    } else {
      expect(info.warning).toContain(native.reason)
      expect(info.compute).toBe(`wasm + JS kernels: ${native.reason}`)
    }
    expect(info.kernels).toEqual(expectedKernels)
    expect(info.fallbacks).toHaveLength(1)
    expect(info.fallbacks[0].backend).toBe('tensorflow')
    expect(info.fallbacks[0].reason).toContain('@tensorflow/tfjs-node-gpu')
    expect(info.fallbacks[0].reason).toContain('@tensorflow/tfjs-node:')
  })

  it('is idempotent and backendInfo() returns the same value', async () => {
    const a = await initBackend()
    const [b, c] = await Promise.all([initBackend(), initBackend({ backend: 'auto' })])
    expect(b).toBe(a)
    expect(c).toBe(a)
    expect(backendInfo()).toBe(a)
  })

  it('forced cpu runs, with a warning that it is ~1000x slower; wasm comes back when asked', async () => {
    const cpu = await initBackend({ backend: 'cpu' })
    expect(cpu.backend).toBe('cpu')
    expect(cpu.requested).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(cpu.warning).toMatch(/1000x slower/)
    expect(cpu.fallbacks).toEqual([])
    const wasm = await initBackend({ backend: 'wasm' })
    expect(wasm.backend).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(wasm.kernels).toEqual(expectedKernels)
  })

  it('FF_NATIVE=0 runs the JS kernels and says so (compute, native, warning)', async () => {
    process.env.FF_NATIVE = '0'
    await initBackend({ backend: 'cpu' })
    const js = await initBackend({ backend: 'wasm' })
    expect(js.kernels).toEqual(wasmKernelConfigs.map((k) => k.kernelName))
    expect(js.compute).toBe('wasm + JS kernels: turned off by FF_NATIVE=0')
    expect(js.native).toEqual({ loaded: false, reason: 'turned off by FF_NATIVE=0' })
    expect(js.warning).toMatch(/native kernels \(turned off by FF_NATIVE=0; JS kernels train/)
    delete process.env.FF_NATIVE
    await initBackend({ backend: 'cpu' })
    expect((await initBackend({ backend: 'wasm' })).kernels).toEqual(expectedKernels)
  })

  it('honours FF_BACKEND when no option is given; the option wins over it', async () => {
    process.env.FF_BACKEND = 'cpu'
    expect((await initBackend()).backend).toBe('cpu')
    expect((await initBackend({ backend: 'wasm' })).backend).toBe('wasm')
  })

  it('rejects unknown names, naming where they came from', async () => {
    process.env.FF_BACKEND = 'gpu'
    await expect(initBackend()).rejects.toThrow(/FF_BACKEND: unknown backend 'gpu'/)
    await expect(initBackend({ backend: 'metal' as 'cpu' })).rejects.toThrow(/--backend: unknown backend 'metal'/)
  })

  it.skipIf(hasTensorflow)('a forced backend that cannot start throws instead of falling back', async () => {
    const before = tf.getBackend()
    await expect(initBackend({ backend: 'tensorflow' })).rejects.toThrow(/tensorflow.*tfjs-node-gpu/)
    expect(tf.getBackend()).toBe(before)
  })
})
