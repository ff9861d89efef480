/**
 * How the app starts an engine process. The JobHost only sees `EngineLauncher`, so the
 * transport is injectable: `forkLauncher` (child_process.fork + tsx, for the CLI and tests)
 * here; the Electron app passes one built on `utilityProcess.fork(builtEngineEntry)` that
 * adapts its `postMessage` / 'message' / 'exit' to `EngineProcess`.
 */
import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { FromEngine, ToEngine } from './protocol'

/** A running engine process, as the JobHost drives it. */
export interface EngineProcess {
  /** OS process id (recorded on the job row), if known. */
  readonly pid: number | undefined
  send(message: ToEngine): void
  onMessage(listener: (message: FromEngine) => void): void
  /** Called once when the process has ended: exit code, or the signal that killed it. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void
  /** Text the process wrote to stdout/stderr (tfjs banners, native crash messages). */
  onOutput(listener: (text: string) => void): void
  /** Ends the process (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void
}

/** Starts one engine process. */
export type EngineLauncher = () => EngineProcess

/** The engine process entry in the sources (run with tsx). */
export const ENGINE_ENTRY = fileURLToPath(new URL('./engine-process.ts', import.meta.url))

/** `--import <tsx>` as an absolute URL, so it resolves whatever the current directory. */
function tsxImport(): string {
  const require = createRequire(import.meta.url)
  return pathToFileURL(require.resolve('tsx')).href
}

/** Forks `entry` with Node + tsx; stdout/stderr are captured (never mixed into the app's stdout). */
export function forkLauncher(
  options: { entry?: string; execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}
): EngineLauncher {
  return () => {
    const child = fork(options.entry ?? ENGINE_ENTRY, [], {
      execArgv: ['--import', tsxImport(), ...(options.execArgv ?? [])],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: options.env ?? process.env,
      serialization: 'json'
    })
    return {
      pid: child.pid,
      send: (message) => {
        if (child.connected) child.send(message)
      },
      onMessage: (listener) => child.on('message', (m) => listener(m as FromEngine)),
      // 'close' (not 'exit'): fires after stdout/stderr are drained, so a crash message is not lost.
      onExit: (listener) => child.once('close', listener),
      onOutput: (listener) => {
        child.stdout?.setEncoding('utf8').on('data', listener)
        child.stderr?.setEncoding('utf8').on('data', listener)
      },
      kill: (signal = 'SIGKILL') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      }
    }
  }
}
