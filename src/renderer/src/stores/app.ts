import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { JobKindInfo, WorkspaceInfo } from '../../../shared/api'
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
  /** Measured training time per 1,024 images of the reference network, ms, when known. */
  trainMsPer1024?: number
  /** Engine processes that train at once, when known. */
  processes?: number
}

/** Reads a BackendView out of a reply, or null when it does not have that shape. */
export function readBackend(value: unknown): BackendView | null {
  if (!value || typeof value !== 'object') return null
  const v = value as Record<string, unknown>
  if (typeof v.backend !== 'string' || typeof v.device !== 'string' || typeof v.threads !== 'number') return null
  const fallbacks = Array.isArray(v.fallbacks)
    ? v.fallbacks.flatMap((f: unknown) => {
        const r = f as Record<string, unknown> | null
        return r && typeof r.backend === 'string' && typeof r.reason === 'string' ? [{ backend: r.backend, reason: r.reason }] : []
      })
    : []
  const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : undefined)
  return {
    backend: v.backend,
    device: v.device,
    threads: v.threads,
    fallbacks,
    warning: typeof v.warning === 'string' ? v.warning : undefined,
    trainMsPer1024: num(v.trainMsPer1024),
    processes: num(v.processes)
  }
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

  /** Whether the engine offers job kind `kind`. */
  function hasJobKind(kind: string): boolean {
    return jobKinds.value.some((k) => k.kind === kind)
  }

  return { workspace, jobKinds, transport, backend, backendProblem, error, loaded, load, loadBackend, hasJobKind }
})
