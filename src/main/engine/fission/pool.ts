/**
 * Runs units in child engine processes (worker.ts), so that on CPU backends `concurrency` members
 * train at once (the wasm backend computes on one thread per process in Node). Use one process at
 * a time on a GPU backend.
 *
 * A worker that finished a unit is kept and given the next unit (same backend and threads), so a
 * plan pays process start, backend start and JIT warm-up once per worker rather than once per
 * unit; results are the same as in a fresh process (nothing in training draws from unseeded
 * state). A worker whose unit was cancelled or failed is not reused; an idle worker exits after
 * {@link IDLE_MS} (or at {@link PooledUnitRunner.close}) and never keeps the parent alive.
 */
import { childScript } from '../child-entry'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BackendName } from '../compute/index'
import type { UnitRunner } from './run'
import type { FromWorker, ToWorker } from './worker'

/** The worker entry in the sources. */
export const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url))

/** An idle worker exits after this many milliseconds without a unit. */
export const IDLE_MS = 2000

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
  /** Called with the pid of the worker that runs a unit, when the unit starts (tests kill workers). */
  onSpawn?: (unit: string, pid: number) => void
  /** Reuse a worker for the next unit (default true); false: one process per unit. */
  reuse?: boolean
}

/** A {@link UnitRunner} over a pool of worker processes; `close` ends the idle ones. */
export type PooledUnitRunner = UnitRunner & {
  close(): void
  /** Worker processes started so far. */
  readonly started: number
}

interface Worker {
  child: ChildProcess
  /** The last lines of its output (for the message when it dies). */
  tail: string[]
  /** Listener of the unit it runs (null when idle). */
  onMessage: ((m: FromWorker) => void) | null
  onClose: ((code: number | null, signal: NodeJS.Signals | null) => void) | null
  idleTimer: NodeJS.Timeout | null
  /** The backend message was passed on already. */
  backendSeen: boolean
}

/** A {@link UnitRunner} that runs each unit in a child process, reusing finished workers. */
export function processUnitRunner(o: ProcessRunnerOptions = {}): PooledUnitRunner {
  const idle: Worker[] = []
  let started = 0
  const retire = (w: Worker) => {
    if (w.idleTimer) clearTimeout(w.idleTimer)
    w.idleTimer = null
    const k = idle.indexOf(w)
    if (k >= 0) idle.splice(k, 1)
    if (w.child.connected) w.child.send({ t: 'exit' } satisfies ToWorker)
    else if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill()
  }
  const spawn = (): Worker => {
    const script = childScript(import.meta.url, './worker.ts', 'worker')
    const child = fork(script.file, [], {
      execArgv: script.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json'
    })
    started++
    const w: Worker = { child, tail: [], onMessage: null, onClose: null, idleTimer: null, backendSeen: false }
    const output = (text: string) => {
      w.tail.push(...text.split('\n').filter((l) => l.trim() !== ''))
      w.tail.splice(0, Math.max(0, w.tail.length - 20))
      o.onOutput?.(text)
    }
    child.stdout?.setEncoding('utf8').on('data', output)
    child.stderr?.setEncoding('utf8').on('data', output)
    child.on('message', (m: FromWorker) => w.onMessage?.(m))
    child.once('close', (code, signal) => {
      const k = idle.indexOf(w)
      if (k >= 0) idle.splice(k, 1)
      if (w.idleTimer) clearTimeout(w.idleTimer)
      w.onClose?.(code, signal)
    })
    return w
  }
  // while idle, a worker does not keep this process alive
  const hold = (w: Worker, on: boolean) => {
    const c = w.child as ChildProcess & { channel?: { ref(): void; unref(): void } }
    for (const s of [c.stdout, c.stderr])
      (s as unknown as { ref?(): void; unref?(): void } | null)?.[on ? 'ref' : 'unref']?.()
    if (on) {
      c.ref()
      c.channel?.ref()
    } else {
      c.unref()
      c.channel?.unref()
    }
  }

  const run: UnitRunner = (setup, unit, hooks) =>
    new Promise((resolve, reject) => {
      let w = o.reuse === false ? undefined : idle.pop()
      if (w?.idleTimer) clearTimeout(w.idleTimer)
      if (w) w.idleTimer = null
      w ??= spawn()
      const worker = w
      hold(worker, true)
      if (worker.child.pid !== undefined) o.onSpawn?.(unit, worker.child.pid)
      let settled = false
      const cancel = () => {
        if (worker.child.connected) worker.child.send({ t: 'cancel' } satisfies ToWorker)
      }
      hooks.signal?.addEventListener('abort', cancel, { once: true })
      const release = (reusable: boolean) => {
        hooks.signal?.removeEventListener('abort', cancel)
        worker.onMessage = null
        worker.onClose = null
        if (!reusable || o.reuse === false || hooks.signal?.aborted || !worker.child.connected) {
          retire(worker)
          return
        }
        hold(worker, false)
        idle.push(worker)
        worker.idleTimer = setTimeout(() => retire(worker), IDLE_MS)
        worker.idleTimer.unref()
      }
      worker.onMessage = (m) => {
        if (m.t === 'backend') {
          if (!worker.backendSeen) o.onBackend?.(m.backend, m.warning)
          worker.backendSeen = true
        } else if (m.t === 'epoch') hooks.onEpoch?.(m.unit, m.record)
        else if (m.t === 'step') hooks.onStep?.(m.unit, m)
        else if (m.t === 'done') {
          settled = true
          release(m.outcome.result.status !== 'cancelled')
          resolve(m.outcome)
        } else if (m.t === 'error') {
          settled = true
          release(false)
          reject(new Error(`unit ${unit}: ${m.message}`))
        }
      }
      worker.onClose = (code, signal) => {
        hooks.signal?.removeEventListener('abort', cancel)
        worker.onMessage = null
        worker.onClose = null
        if (!settled) {
          const last = worker.tail.filter((l) => /error|fatal|abort/i.test(l)).at(-1) ?? worker.tail.at(-1) ?? ''
          reject(
            new Error(
              `unit ${unit}: worker ${signal ? `killed by ${signal}` : `exited with code ${code}`}${last ? ` (${last.trim().slice(0, 200)})` : ''}; run the plan again to resume it`
            )
          )
        }
      }
      worker.child.send({
        t: 'run',
        setup,
        unit,
        backend: o.backend ?? 'auto',
        threads: o.threads ?? 1
      } satisfies ToWorker)
    })
  return Object.defineProperties(run, {
    close: {
      value: () => {
        for (const w of [...idle]) retire(w)
      }
    },
    started: { get: () => started }
  }) as PooledUnitRunner
}
