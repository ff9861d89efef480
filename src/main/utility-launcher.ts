/**
 * The Electron launcher of engine processes: each job runs in its own `utilityProcess`
 * (a Node process managed by Electron), adapted to the host's `EngineProcess`.
 */
import { utilityProcess } from 'electron'
import type { EngineLauncher } from './host/launcher'
import type { FromEngine } from './host/protocol'

/**
 * A launcher that forks the built engine entry (out/main/engine.js) as a utilityProcess.
 * @param entry absolute path of the built engine entry
 */
export function utilityLauncher(entry: string): EngineLauncher {
  return () => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'FissionFusion engine', stdio: 'pipe' })
    let exited = false
    child.once('exit', () => {
      exited = true
    })
    return {
      get pid() {
        return child.pid
      },
      send: (message) => {
        if (!exited) child.postMessage(message)
      },
      onMessage: (listener) => child.on('message', (m: unknown) => listener(m as FromEngine)),
      // utilityProcess reports only an exit code; a native crash shows as a non-zero code.
      onExit: (listener) => child.once('exit', (code: number) => listener(code, null)),
      onOutput: (listener) => {
        child.stdout?.setEncoding('utf8').on('data', listener)
        child.stderr?.setEncoding('utf8').on('data', listener)
      },
      kill: () => {
        if (!exited) child.kill()
      }
    }
  }
}
