// Loading the wasm backend from node_modules, independent of how this file is
// run (tsx, vitest, a bundled Electron main): the .wasm binaries are located
// next to the package's entry file instead of next to whatever script loaded it.
//
// Threads: tfjs-backend-wasm 4.22 turns its multi-threaded (pthreads + SIMD)
// build off in Node because Emscripten starts each pthread worker from a
// `blob:` URL, which worker_threads refuses. Node can run that build: the
// worker source ships in the package (wasm-out/*.worker.js) and can be started
// with `eval: true`, and the module script the workers import is the package's
// own wasm-out/tfjs-backend-wasm-threaded-simd.js. The build also caps its
// pool at half the logical cores it sees (it assumes hyper-threading), so the
// core count is doubled while it initialises.
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { errorText } from '../../../shared/errors'

const require = createRequire(import.meta.url)

/** The folder holding tfjs-backend-wasm's .wasm binaries, with a trailing separator. */
export function wasmBinaryDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep
}

function wasmOutFile(name: string): string {
  return path.join(path.dirname(wasmBinaryDir()), 'wasm-out', name)
}

/** Installs a global `Worker` that Emscripten's pthread pool can use under Node. */
function installPthreadWorker(): void {
  const contents = (require(wasmOutFile('tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string })
    .wasmWorkerContents
  // The browser path escapes newlines the same way before making its blob.
  const source = contents.replace(/\n/g, '\\n')
  const moduleScript = wasmOutFile('tfjs-backend-wasm-threaded-simd.js')
  class PthreadWorker extends NodeWorker {
    constructor(url: string | URL, options?: WorkerOptions) {
      if (String(url).startsWith('blob:')) {
        super(source, { eval: true })
        // Idle pool threads must not keep the process alive.
        this.unref()
      } else {
        super(url, options)
      }
    }
    // Emscripten refs a worker while its pthread runs; XNNPACK's pool threads run
    // for the life of the process, and the main thread only ever waits for them
    // synchronously, so they must never hold the process open.
    override ref(): void {}
    override postMessage(message: unknown, transfer?: Parameters<NodeWorker['postMessage']>[1]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null
      if (m?.cmd === 'load' && typeof m.urlOrBlob !== 'string') message = { ...m, urlOrBlob: moduleScript }
      super.postMessage(message, transfer)
    }
  }
  // Emscripten assigns worker_threads.Worker to the global during start-up; keep ours.
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => undefined })
}

async function start(): Promise<void> {
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false')
  await tf.ready()
}

/**
 * Imports the wasm backend, points it at its binaries and makes it the active
 * backend with `threads` XNNPACK threads (1 = the single-threaded SIMD build).
 * If the threaded build cannot start, it starts single-threaded and says why
 * in `threadsError`.
 */
export async function activateWasm(
  threads: number
): Promise<{ threads: number; simd: boolean; threadsError?: string }> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm')
  wasm.setWasmPaths(wasmBinaryDir())
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))
  let threadsError: string | undefined
  if (threads > 1 && simd) {
    const osm = os as { cpus: typeof os.cpus }
    const cpus = osm.cpus
    try {
      installPthreadWorker()
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
      wasm.setThreadsCount(threads)
      osm.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0])
      await start()
      return { threads: wasm.getThreadsCount(), simd }
    } catch (e) {
      threadsError = errorText(e)
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
      wasm.setThreadsCount(1)
    } finally {
      osm.cpus = cpus
    }
  }
  await start()
  return { threads: wasm.getThreadsCount(), simd, threadsError }
}
