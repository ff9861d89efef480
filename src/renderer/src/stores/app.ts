import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { JobKindInfo, SelfCheckReport, WorkspaceInfo } from '../../../shared/api'
import { api, transportKind } from '../api'
import type { TransportKind } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'

/** The compute backend as the interface shows it (the engine's BackendInfo, checked field by field). */
export interface BackendView {
  /** 'tensorflow', 'wasm' or 'cpu'. */
  backend: string
  /** 'gpu' or 'cpu'. */
  device: string
  /** Threads the backend computes with (≥ 1). */
  threads: number
  /** Backends tried and skipped, with why. */
  fallbacks: { backend: string; reason: string }[]
  /** Set when the engine runs on something slower than the best backend. */
  warning?: string
  /** What computes, in words (e.g. 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 1 thread)'), when reported. */
  compute?: string
  /** On wasm: whether the native kernels run (`blas`: their instruction set and BLAS; `reason`: why not). */
  native?: { loaded: boolean; blas?: string; reason?: string }
}

/** Reads a BackendView out of a reply, or null when it does not have that shape. */
export function readBackend(value: unknown): BackendView | null {
  if (!value || typeof value !== 'object') return null
  const v = value as Record<string, unknown>
  if (typeof v.backend !== 'string' || typeof v.device !== 'string' || typeof v.threads !== 'number') return null
  const fallbacks = Array.isArray(v.fallbacks)
    ? v.fallbacks.flatMap((f: unknown) => {
        const r = f as Record<string, unknown> | null
        return r && typeof r.backend === 'string' && typeof r.reason === 'string'
          ? [{ backend: r.backend, reason: r.reason }]
          : []
      })
    : []
  const text = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined)
  const n = v.native as Record<string, unknown> | null | undefined
  return {
    backend: v.backend,
    device: v.device,
    threads: v.threads,
    fallbacks,
    warning: text(v.warning),
    compute: text(v.compute),
    native:
      n && typeof n === 'object' && typeof n.loaded === 'boolean'
        ? { loaded: n.loaded, blas: text(n.blas), reason: text(n.reason) }
        : undefined
  }
}

/**
 * The slower compute path the engine runs on, in a few words ('JS kernels' when the native
 * kernels are not in use on wasm, 'pure-JS cpu backend' on cpu), or null on the fast path.
 */
export function slowerPath(b: BackendView): string | null {
  if (b.backend === 'cpu') return 'pure-JS cpu backend'
  if (b.backend === 'wasm' && (b.native ? !b.native.loaded : b.compute?.includes('JS kernels'))) return 'JS kernels'
  return null
}

/**
 * The compute path in plain words for the top bar, e.g. 'CPU · native kernels, AVX-512,
 * 1 thread per worker', 'CPU · JS kernels, 1 thread per worker', 'CPU · pure JavaScript',
 * 'GPU · TensorFlow'. Which backends were skipped and why stay in the tooltip: a skipped GPU
 * package on a machine without a GPU is the normal CPU path, not a fallback.
 */
export function computeLabel(b: BackendView): string {
  const threads = `${b.threads} thread${b.threads === 1 ? '' : 's'}${b.backend === 'tensorflow' ? '' : ' per worker'}`
  if (b.backend === 'tensorflow') return `${b.device.toUpperCase()} · TensorFlow, ${threads}`
  if (b.backend === 'cpu') return 'CPU · pure JavaScript, 1 thread'
  if (b.backend === 'wasm') {
    const native = b.native?.loaded ?? b.compute?.includes('native kernels') === true
    const isa = b.native?.blas?.split(',')[0]
    return native ? `CPU · native kernels${isa ? `, ${isa}` : ''}, ${threads}` : `CPU · JS kernels, ${threads}`
  }
  return `${b.device.toUpperCase()} · ${b.backend}, ${threads}`
}

/** What the whole app needs to know about where it runs: workspace, engine features, transport. */
export const useAppStore = defineStore('app', () => {
  /** The open workspace, or null until loaded. */
  const workspace = ref<WorkspaceInfo | null>(null)
  /** Job kinds the engine can run (import, fission, fusion, export appear as they are built). */
  const jobKinds = ref<JobKindInfo[]>([])
  /** 'electron' (window.api) or 'bridge' (a browser on the loopback WebSocket). */
  const transport = ref<TransportKind>('electron')
  /** The compute backend the engine runs on, or null until known. */
  const backend = ref<BackendView | null>(null)
  /** Why the backend is not known (no such command yet, or the check failed), or null. */
  const backendProblem = ref<string | null>(null)
  /** Why the app could not reach its engine, or null. */
  const error = ref<UiError | null>(null)
  /** The start-up self-check (database, workspace, engine, kernels), or null until it answered. */
  const selfCheck = ref<SelfCheckReport | null>(null)
  /** True once the first load finished (successfully or not). */
  const loaded = ref(false)

  /** Loads the workspace info and the available job kinds. */
  async function load(): Promise<void> {
    transport.value = transportKind
    try {
      const [info, kinds] = await Promise.all([api().workspaceInfo({}), api().listJobKinds({})])
      workspace.value = info
      jobKinds.value = kinds
      error.value = null
    } catch (e) {
      error.value = toUiError('Connecting to the workspace', e)
    } finally {
      loaded.value = true
    }
    await loadBackend()
    await loadSelfCheck()
  }

  /** Asks the engine which backend it runs on. */
  async function loadBackend(): Promise<void> {
    try {
      backend.value = readBackend(await api().backendInfo({}))
      backendProblem.value = backend.value ? null : 'The engine answered with an unexpected backend description.'
    } catch (e) {
      backendProblem.value = toUiError('Checking the compute backend', e).message
    }
  }

  /** Runs the start-up self-check; a failure to even ask is a failed check of its own. */
  async function loadSelfCheck(): Promise<void> {
    try {
      selfCheck.value = await api().selfCheck({})
    } catch (e) {
      selfCheck.value = {
        ok: false,
        checks: [
          {
            id: 'engine',
            label: 'Self-check',
            status: 'fail',
            detail: toUiError('Running the start-up self-check', e).message
          }
        ]
      }
    }
  }

  /** Whether the engine offers job kind `kind`. */
  function hasJobKind(kind: string): boolean {
    return jobKinds.value.some((k) => k.kind === kind)
  }

  return {
    workspace,
    jobKinds,
    transport,
    backend,
    backendProblem,
    selfCheck,
    error,
    loaded,
    load,
    loadBackend,
    loadSelfCheck,
    hasJobKind
  }
})
