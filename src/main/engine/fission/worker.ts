/**
 * Entry of a unit worker process (forked by pool.ts with tsx): receives `run` messages one at a
 * time, runs each unit with {@link runUnitHere} on the requested backend (started once), streams
 * epochs and replies with the outcome; an `exit` message (or the pool's disconnection while idle)
 * ends it. A `cancel` message, SIGTERM or the loss of the pool process stops the running unit
 * between steps; SIGKILL loses at most the current epoch, which the next run of the unit redoes.
 */
import { initBackend, type BackendName } from '../compute/index'
import { runUnitHere, type RunSetup, type UnitOutcome } from './run'
import type { EpochRecord } from '../models/checkpoint'

/** Pool → worker. */
export type ToWorker =
  | { t: 'run'; setup: RunSetup; unit: string; backend: BackendName | 'auto'; threads: number }
  | { t: 'cancel' }
  | { t: 'exit' }

/** Worker → pool. */
export type FromWorker =
  | { t: 'backend'; backend: string; warning?: string }
  | { t: 'epoch'; unit: string; record: EpochRecord }
  | { t: 'step'; unit: string; epoch: number; iteration: number; iterations: number; loss: number; lr: number }
  | { t: 'done'; outcome: UnitOutcome }
  | { t: 'error'; message: string }

/** The running unit's cancellation (a new one per unit). */
let controller: AbortController | null = null
/** Set once the pool is gone or SIGTERM came: no further unit starts. */
let stopping = false
let backend: Promise<{ backend: string; warning?: string }> | null = null

function send(m: FromWorker): Promise<void> {
  return new Promise((resolve) =>
    process.send && process.connected ? process.send(m, undefined, {}, () => resolve()) : resolve()
  )
}

async function run(m: Extract<ToWorker, { t: 'run' }>, signal: AbortSignal): Promise<FromWorker> {
  backend ??= initBackend({ backend: m.backend, threads: m.threads })
  const info = await backend
  await send({ t: 'backend', backend: info.backend, ...(info.warning ? { warning: info.warning } : {}) })
  const outcome = await runUnitHere(m.setup, m.unit, {
    signal,
    onEpoch: (unit, record) => void send({ t: 'epoch', unit, record }),
    onStep: (unit, p) => void send({ t: 'step', unit, ...p })
  })
  return { t: 'done', outcome }
}

process.on('message', (m: ToWorker) => {
  if (m.t === 'cancel') controller?.abort()
  else if (m.t === 'exit') {
    if (!controller) process.exit(0)
    stopping = true
  } else if (m.t === 'run' && !controller && !stopping) {
    const c = new AbortController()
    controller = c
    void run(m, c.signal)
      .catch((e: unknown): FromWorker => ({ t: 'error', message: e instanceof Error ? e.message : String(e) }))
      .then(async (reply) => {
        // free for the next unit before the reply goes out (the pool may answer it at once)
        controller = null
        const last = stopping || reply.t === 'error' || c.signal.aborted
        await send(reply)
        if (last || stopping) process.exit(0)
      })
  }
})
process.on('SIGTERM', () => {
  stopping = true
  if (controller) controller.abort()
  else process.exit(0)
})
// The pool's process died (even by SIGKILL): stop at the next step instead of training orphaned; an idle worker exits.
process.on('disconnect', () => {
  stopping = true
  if (controller) controller.abort()
  else process.exit(0)
})
