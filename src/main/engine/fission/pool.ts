/**
 * Runs units in child engine processes (worker.ts), one unit per process, so that on CPU
 * backends `concurrency` members train at once (the wasm backend computes on one thread per
 * process in Node). Use one process at a time on a GPU backend.
 */
import { childScript } from '../child-entry'
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BackendName } from '../compute/index'
import type { UnitRunner } from './run'
import type { FromWorker, ToWorker } from './worker'

/** The worker entry in the sources. */
export const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url))

/** Options of {@link processUnitRunner}. */
export interface ProcessRunnerOptions {
  /** Backend each worker starts (default auto). */
  backend?: BackendName | 'auto'
  /** Compute threads per worker (default 1). */
  threads?: number
  /** Called with the backend a worker started (and any slow-path warning). */
  onBackend?: (backend: string, warning?: string) => void
  /** Worker stdout/stderr text (default: dropped; tfjs prints a banner). */
  onOutput?: (text: string) => void
  /** Called with each worker's pid when it starts (tests kill workers). */
  onSpawn?: (unit: string, pid: number) => void
}

/** A {@link UnitRunner} that runs each unit in its own child process. */
export function processUnitRunner(o: ProcessRunnerOptions = {}): UnitRunner {
  return (setup, unit, hooks) => new Promise((resolve, reject) => {
    const script = childScript(import.meta.url, './worker.ts', 'worker')
    const child = fork(script.file, [], { execArgv: script.execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'json' })
    if (child.pid !== undefined) o.onSpawn?.(unit, child.pid)
    const tail: string[] = []
    const output = (text: string) => {
      tail.push(...text.split('\n').filter((l) => l.trim() !== ''))
      tail.splice(0, Math.max(0, tail.length - 20))
      o.onOutput?.(text)
    }
    child.stdout?.setEncoding('utf8').on('data', output)
    child.stderr?.setEncoding('utf8').on('data', output)
    let settled = false
    const cancel = () => { if (child.connected) child.send({ t: 'cancel' } satisfies ToWorker) }
    hooks.signal?.addEventListener('abort', cancel, { once: true })
    child.on('message', (m: FromWorker) => {
      if (m.t === 'backend') o.onBackend?.(m.backend, m.warning)
      else if (m.t === 'epoch') hooks.onEpoch?.(m.unit, m.record)
      else if (m.t === 'step') hooks.onStep?.(m.unit, m)
      else if (m.t === 'done') { settled = true; resolve(m.outcome) }
      else if (m.t === 'error') { settled = true; reject(new Error(`unit ${unit}: ${m.message}`)) }
    })
    child.once('close', (code, signal) => {
      hooks.signal?.removeEventListener('abort', cancel)
      if (!settled) {
        const last = tail.filter((l) => /error|fatal|abort/i.test(l)).at(-1) ?? tail.at(-1) ?? ''
        reject(new Error(`unit ${unit}: worker ${signal ? `killed by ${signal}` : `exited with code ${code}`}${last ? ` (${last.trim().slice(0, 200)})` : ''}; run the plan again to resume it`))
      }
    })
    child.send({ t: 'run', setup, unit, backend: o.backend ?? 'auto', threads: o.threads ?? 1 } satisfies ToWorker)
  })
}
