/**
 * Entry of an engine process: receives one `run` message, runs that job kind with a
 * JobContext (its own store connection, an AbortSignal, progress/log/state), reports the
 * outcome, and exits. Works under child_process.fork (process.send) and Electron's
 * utilityProcess (process.parentPort). SIGTERM counts as a cancel request.
 */
import type { Json } from '../../shared/records'
import { Store } from '../store'
import { Workspace } from '../workspace'
import { findJobKind } from './jobs'
import type { JobContext } from './jobs'
import type { FromEngine, ToEngine } from './protocol'
import { errorText } from '../../shared/errors'

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void
  postMessage(message: unknown): void
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort

function send(message: FromEngine): Promise<void> {
  return new Promise((resolve) => {
    if (parentPort) {
      parentPort.postMessage(message)
      resolve()
    } else if (process.send) {
      process.send(message, undefined, {}, () => resolve())
    } else {
      resolve()
    }
  })
}

function onMessage(listener: (m: ToEngine) => void): void {
  if (parentPort) parentPort.on('message', (e) => listener(e.data as ToEngine))
  else process.on('message', (m) => listener(m as ToEngine))
}

const controller = new AbortController()
let started = false

async function run(msg: Extract<ToEngine, { t: 'run' }>): Promise<FromEngine> {
  const kind = findJobKind(msg.kind)
  if (!kind) return { t: 'error', message: `unknown job kind '${msg.kind}'` }
  const parsed = kind.params.safeParse(msg.params)
  if (!parsed.success) return { t: 'error', message: `invalid params: ${parsed.error.message}` }
  const workspace = Workspace.open(msg.workspaceDir)
  const store = Store.open(workspace.dbPath)
  const warned = new Set<string>()
  try {
    const ctx: JobContext = {
      jobId: msg.jobId,
      attempt: msg.attempt,
      workspace,
      store,
      signal: controller.signal,
      progress: (progress) => void send({ t: 'progress', progress }),
      log: (level, message) => {
        // A warning is said once per job, however many stages or worker processes repeat it.
        if (level === 'warn') {
          if (warned.has(message)) return
          warned.add(message)
        }
        void send({ t: 'log', level, message })
      },
      state: {
        get: () => store.jobs.getState(msg.jobId),
        set: (state: Json) => store.jobs.setState(msg.jobId, state)
      }
    }
    const result = await kind.run(ctx, parsed.data)
    if (controller.signal.aborted) return { t: 'cancelled' }
    // A kind's result is JSON by its type (src/shared/job-results.ts; checked where the kind is defined).
    return { t: 'done', result: (result ?? null) as Json }
  } catch (e) {
    if (controller.signal.aborted) return { t: 'cancelled' }
    return { t: 'error', message: errorText(e) }
  } finally {
    store.close()
  }
}

onMessage((msg) => {
  if (msg.t === 'cancel') {
    controller.abort()
  } else if (msg.t === 'run' && !started) {
    started = true
    void run(msg)
      .catch((e: Error): FromEngine => ({ t: 'error', message: e.message }))
      .then(async (outcome) => {
        await send(outcome)
        process.exit(0)
      })
  }
})

// SIGTERM (a cancel from another app instance) and SIGINT (Ctrl-C reaches the whole
// terminal process group) stop the job at its next step, like a cancel message.
process.on('SIGTERM', () => controller.abort())
process.on('SIGINT', () => controller.abort())
function crash(e: unknown): void {
  void send({ t: 'error', message: `engine crashed: ${errorText(e)}` }).finally(() => process.exit(1))
}
process.on('uncaughtException', crash)
process.on('unhandledRejection', crash)
