/**
 * Entry of a unit worker process (forked by pool.ts with tsx): receives one `run` message, runs
 * that unit with {@link runUnitHere} on the requested backend, streams epochs, replies with the
 * outcome and exits. A `cancel` message, SIGTERM or the loss of the pool process stops it
 * between steps; SIGKILL loses at most the current epoch, which the next run of the unit redoes.
 */
import { initBackend, type BackendName } from '../compute/index'
import { runUnitHere, type RunSetup, type UnitOutcome } from './run'
import type { EpochRecord } from '../models/checkpoint'

/** Pool → worker. */
export type ToWorker =
  | { t: 'run'; setup: RunSetup; unit: string; backend: BackendName | 'auto'; threads: number }
  | { t: 'cancel' }

/** Worker → pool. */
export type FromWorker =
  | { t: 'backend'; backend: string; warning?: string }
  | { t: 'epoch'; unit: string; record: EpochRecord }
  | { t: 'step'; unit: string; epoch: number; iteration: number; iterations: number; loss: number; lr: number }
  | { t: 'done'; outcome: UnitOutcome }
  | { t: 'error'; message: string }

const controller = new AbortController()

function send(m: FromWorker): Promise<void> {
  return new Promise((resolve) => (process.send && process.connected ? process.send(m, undefined, {}, () => resolve()) : resolve()))
}

async function run(m: Extract<ToWorker, { t: 'run' }>): Promise<FromWorker> {
  const info = await initBackend({ backend: m.backend, threads: m.threads })
  await send({ t: 'backend', backend: info.backend, ...(info.warning ? { warning: info.warning } : {}) })
  const outcome = await runUnitHere(m.setup, m.unit, {
    signal: controller.signal,
    onEpoch: (unit, record) => void send({ t: 'epoch', unit, record }),
    onStep: (unit, p) => void send({ t: 'step', unit, ...p })
  })
  return { t: 'done', outcome }
}

let started = false
process.on('message', (m: ToWorker) => {
  if (m.t === 'cancel') controller.abort()
  else if (m.t === 'run' && !started) {
    started = true
    void run(m)
      .catch((e: unknown): FromWorker => ({ t: 'error', message: e instanceof Error ? e.message : String(e) }))
      .then(async (reply) => {
        await send(reply)
        process.exit(0)
      })
  }
})
process.on('SIGTERM', () => controller.abort())
// The pool's process died (even by SIGKILL): stop at the next step instead of training orphaned.
process.on('disconnect', () => controller.abort())
