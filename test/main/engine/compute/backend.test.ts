// Backend selection: order, forced choices, env FF_BACKEND, idempotence, loud cpu warning.
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { afterEach, describe, expect, it } from 'vitest'
import { backendInfo, initBackend } from '../../../../src/main/engine/compute'
import { wasmKernelConfigs } from '../../../../src/main/engine/compute/kernels'

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
    expect(info.warning).toBeUndefined()
    expect(info.kernels).toEqual(wasmKernelConfigs.map((k) => k.kernelName))
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
    expect(wasm.kernels.length).toBe(wasmKernelConfigs.length)
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
