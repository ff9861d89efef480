/**
 * The unit project's rule, enforced in every unit test file (setupFiles in vitest.config.ts):
 * a unit test runs in-process and fast. Starting a child process or a worker thread, or
 * listening on a network port, throws; a file that uses more than UNIT_FILE_CPU_MS of CPU or
 * UNIT_FILE_WALL_MS of wall time (imports included) fails. Such a file belongs in the
 * integration project (INTEGRATION in vitest.config.ts).
 */
import childProcess from 'node:child_process'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'
import { relative } from 'node:path'
import workerThreads from 'node:worker_threads'
import { afterAll, expect } from 'vitest'

/**
 * A unit file's budget. Unit files take under ~5 s of CPU on an idle 2-core machine; the limits
 * leave room for a busy one (CPU time barely grows with load, wall time does).
 */
export const UNIT_FILE_CPU_MS = 10_000
export const UNIT_FILE_WALL_MS = 60_000

const started = performance.now()
const cpuAtStart = process.cpuUsage()
const MOVE = 'a unit test runs in-process; move this file to the integration project (INTEGRATION in vitest.config.ts)'

const CHILD_PROCESS = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const
type Patchable = Record<string, unknown>
const saved: Array<[Patchable, string, unknown]> = []
function forbid(target: Patchable, name: string, what: string, make: (error: () => never) => unknown): void {
  saved.push([target, name, target[name]])
  target[name] = make(() => {
    throw new Error(`${what}: ${MOVE}`)
  })
}

for (const name of CHILD_PROCESS) {
  forbid(childProcess as unknown as Patchable, name, `child_process.${name}`, (error) => () => error())
}
forbid(
  workerThreads as unknown as Patchable,
  'Worker',
  'new Worker (worker_threads)',
  (error) =>
    class {
      constructor() {
        error()
      }
    }
)
forbid(net.Server.prototype as unknown as Patchable, 'listen', 'listening on a network port', (error) => () => error())
syncBuiltinESMExports()

afterAll(() => {
  for (const [target, name, original] of saved.reverse()) target[name] = original
  syncBuiltinESMExports()
  const cpu = process.cpuUsage(cpuAtStart)
  const cpuMs = (cpu.user + cpu.system) / 1000
  const wallMs = performance.now() - started
  const file = relative(process.cwd(), expect.getState().testPath ?? '')
  if (cpuMs > UNIT_FILE_CPU_MS || wallMs > UNIT_FILE_WALL_MS) {
    throw new Error(
      `${file} took ${Math.round(cpuMs)} ms of CPU and ${Math.round(wallMs)} ms of wall time, over the unit budget ` +
        `(${UNIT_FILE_CPU_MS} ms of CPU, ${UNIT_FILE_WALL_MS} ms of wall time): split it or ${MOVE.slice(MOVE.indexOf('move'))}`
    )
  }
})
