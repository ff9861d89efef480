// Backend choice: tensorflow (native) → wasm (+ the project's kernels) → cpu,
// unless the user forces one. The choice and every skipped backend, with why,
// is a value the CLI and UI show.
import os from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { registerGradients, registerWasmKernels } from './kernels'
import { loadNative } from './native'
import { activateWasm } from './wasm'
import { errorText } from '../../../shared/errors'

/** A tfjs backend the engine can run on. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu'

/** What runs the engine's tensor math, and why. */
export interface BackendInfo {
  /** The backend that runs. */
  backend: BackendName
  /** What the user asked for (`--backend` / env FF_BACKEND), or 'auto'. */
  requested: BackendName | 'auto'
  /** Version of @tensorflow/tfjs-core in use. */
  tfjsVersion: string
  /** Where the math runs: 'gpu' only for @tensorflow/tfjs-node-gpu (which itself uses the CPU when CUDA is missing). */
  device: 'gpu' | 'cpu'
  /** Threads the backend computes with (≥ 1). */
  threads: number
  /** Whether the backend runs SIMD code. */
  simd: boolean
  /** Every backend tried and skipped, in order, with the reason. */
  fallbacks: { backend: BackendName; reason: string }[]
  /** Set whenever the engine runs on something slower than the best backend (e.g. the pure-JS cpu backend). */
  warning?: string
  /** Names of the project's own kernels registered on this backend. */
  kernels: string[]
  /**
   * What computes, in words, e.g. 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 2 threads)' or
   * 'wasm + JS kernels: native addon not built: <reason>'.
   */
  compute: string
  /**
   * On wasm: whether the native addon (native/) runs the convolution kernels; `blas` is its
   * instruction set and BLAS (e.g. 'AVX-512, OpenBLAS 0.3.21'), `reason` why it is not loaded.
   */
  native?: { loaded: boolean; blas?: string; reason?: string }
}

const ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu']
const CPU_WARNING =
  'running on the pure-JS cpu backend: training is ~1000x slower than the wasm backend (use it only for checks)'

let current: BackendInfo | undefined
let pending: Promise<BackendInfo> | undefined

function parseRequest(value: string | undefined, source: string): BackendName | 'auto' {
  const v = (value ?? 'auto').trim().toLowerCase()
  if (v === 'auto' || (ORDER as readonly string[]).includes(v)) return v as BackendName | 'auto'
  throw new Error(`${source}: unknown backend '${value}' (expected auto, ${ORDER.join(', ')})`)
}

function parseThreads(value: string | undefined): number {
  // One thread per engine process by default: plans run one process per member
  // (OFFLINE.md), and on a busy machine extra XNNPACK threads only contend.
  if (value === undefined || value.trim() === '') return 1
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new Error(`FF_THREADS: expected a whole number ≥ 1, got '${value}'`)
  return n
}

function message(e: unknown): string {
  const text = errorText(e)
  return text.split('\n')[0]
}

type Started = Pick<BackendInfo, 'device' | 'threads' | 'simd' | 'kernels' | 'compute' | 'native'> & {
  warning?: string
}

async function tryTensorflow(): Promise<Started> {
  const reasons: string[] = []
  for (const [pkg, device] of [
    ['@tensorflow/tfjs-node-gpu', 'gpu'],
    ['@tensorflow/tfjs-node', 'cpu']
  ] as const) {
    try {
      // A variable specifier: these optional packages are usually not installed.
      const specifier: string = pkg
      await import(specifier)
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") returned false')
      await tf.ready()
      return { device, threads: os.availableParallelism(), simd: true, kernels: [], compute: `tensorflow (${pkg})` }
    } catch (e) {
      // Say "not installed" rather than echo a resolver message with local paths.
      const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && message(e).includes(`'${pkg}'`)
      reasons.push(`${pkg}: ${missing ? 'not installed' : message(e)}`)
    }
  }
  throw new Error(reasons.join('; '))
}

async function tryWasm(wantThreads: number): Promise<Started> {
  const { threads, simd, threadsError } = await activateWasm(wantThreads)
  const native = loadNative()
  if (native.loaded) native.addon.setThreads(threads)
  // After the backend's import (which registers its own kernels), before the first gradient.
  const kernels = registerWasmKernels({ native: native.loaded ? native.addon : undefined })
  const slow: string[] = []
  if (!simd) slow.push('no WebAssembly SIMD (~3x slower)')
  if (threadsError !== undefined) slow.push(`threads (${threadsError}; running single-threaded)`)
  if (!native.loaded) slow.push(`native kernels (${native.reason}; JS kernels train ~3x slower)`)
  const plural = `${threads} thread${threads === 1 ? '' : 's'}`
  return {
    device: 'cpu',
    threads,
    simd,
    kernels,
    compute: native.loaded
      ? `wasm + native kernels (${native.blas}, ${plural})`
      : `wasm + JS kernels: ${native.reason}`,
    native: native.loaded ? { loaded: true, blas: native.blas } : { loaded: false, reason: native.reason },
    warning: slow.length > 0 ? `wasm backend without ${slow.join(', ')}` : undefined
  }
}

async function tryCpu(): Promise<Started> {
  if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") returned false')
  await tf.ready()
  return { device: 'cpu', threads: 1, simd: false, kernels: [], compute: 'cpu (pure JS)', warning: CPU_WARNING }
}

const TRY: Record<BackendName, (threads: number) => Promise<Started>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu
}

async function select(requested: BackendName | 'auto', threads: number): Promise<BackendInfo> {
  const fallbacks: BackendInfo['fallbacks'] = []
  registerGradients()
  for (const backend of requested === 'auto' ? ORDER : [requested]) {
    try {
      const got = await TRY[backend](threads)
      const info: BackendInfo = { backend, requested, tfjsVersion: tf.version_core, fallbacks, ...got }
      if (info.warning === undefined) delete info.warning
      return info
    } catch (e) {
      fallbacks.push({ backend, reason: message(e) })
    }
  }
  const why = fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')
  throw new Error(`backend '${requested}' could not start (${why})`)
}

/**
 * Chooses and activates the tfjs backend: the forced one (`opts.backend`, else
 * env FF_BACKEND), or the first that starts of tensorflow → wasm → cpu.
 * The wasm backend computes with `opts.threads` (else env FF_THREADS, else 1)
 * XNNPACK threads; more than 1 uses the multi-threaded build (see wasm.ts).
 * Idempotent: repeated calls with the same request return the same info; a
 * different request switches backend. A forced backend that cannot start
 * throws (it never falls back). Falling back to cpu sets a loud `warning`.
 */
export async function initBackend(opts?: { backend?: BackendName | 'auto'; threads?: number }): Promise<BackendInfo> {
  const requested =
    opts?.backend !== undefined
      ? parseRequest(opts.backend, '--backend')
      : parseRequest(process.env.FF_BACKEND || undefined, 'FF_BACKEND')
  const threads = opts?.threads ?? parseThreads(process.env.FF_THREADS)
  while (pending) await pending.catch(() => undefined)
  if (current && current.requested === requested && tf.getBackend() === current.backend) return current
  pending = select(requested, threads)
  try {
    current = await pending
    return current
  } finally {
    pending = undefined
  }
}

/** The active backend's info, or undefined before {@link initBackend} has succeeded. */
export function backendInfo(): BackendInfo | undefined {
  return current
}
