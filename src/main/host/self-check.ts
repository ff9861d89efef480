/**
 * The start-up self-check the window shows before anything else: the database opens and is
 * sound, the workspace folder takes writes, an engine process starts and gets a backend, and
 * the native kernels load. Each check says what it found and, when it is not fine, what to do.
 */
import { randomBytes } from 'node:crypto'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BackendReport, SelfCheckItem, SelfCheckReport } from '../../shared/api'
import type { AppCore } from './core'

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]

/** Runs every check; never throws (a check that throws is a failed check). */
export async function selfCheck(app: AppCore, backend: () => Promise<BackendReport>): Promise<SelfCheckReport> {
  const checks: SelfCheckItem[] = []
  try {
    const integrity = app.store.integrityCheck()
    checks.push(
      integrity.length === 1 && integrity[0] === 'ok'
        ? {
            id: 'database',
            label: 'Database',
            status: 'ok',
            detail: `schema version ${app.store.schemaVersion()}, integrity ok`
          }
        : {
            id: 'database',
            label: 'Database',
            status: 'fail',
            detail: `integrity check: ${integrity.slice(0, 3).join('; ')}`,
            action: 'Restore the workspace from a backup, or open another workspace folder.'
          }
    )
  } catch (e) {
    checks.push({
      id: 'database',
      label: 'Database',
      status: 'fail',
      detail: message(e),
      action: 'Open another workspace folder, or restore this one from a backup.'
    })
  }
  const probe = join(app.workspace.dir, `.write-check-${randomBytes(4).toString('hex')}`)
  try {
    writeFileSync(probe, 'ok')
    rmSync(probe)
    checks.push({ id: 'workspace', label: 'Workspace folder', status: 'ok', detail: 'writable' })
  } catch (e) {
    checks.push({
      id: 'workspace',
      label: 'Workspace folder',
      status: 'fail',
      detail: `cannot write: ${message(e)}`,
      action:
        "Free disk space or fix the folder's permissions, or choose another workspace (FF_WORKSPACE or --workspace)."
    })
  }
  try {
    const b = await backend()
    checks.push({
      id: 'backend',
      label: 'Engine',
      status: b.backend === 'cpu' ? 'warn' : 'ok',
      detail: `an engine process started on the ${b.backend} backend (${b.device}, ${b.threads} thread${b.threads === 1 ? '' : 's'})`,
      ...(b.backend === 'cpu'
        ? {
            action:
              'The pure-JavaScript backend is ~1,000× slower: reinstall the app (its WebAssembly backend is missing or failed to load).'
          }
        : {})
    })
    if (b.backend === 'wasm') {
      checks.push(
        b.native?.loaded
          ? { id: 'kernels', label: 'Native kernels', status: 'ok', detail: b.native.blas ?? 'loaded' }
          : {
              id: 'kernels',
              label: 'Native kernels',
              status: 'warn',
              detail: `not in use: ${b.native?.reason ?? 'unknown reason'}; training runs the ~3× slower JavaScript kernels`,
              action:
                'On Linux install OpenBLAS and libgomp (libopenblas0, libgomp1); from the repository run `npm run build:native`.'
            }
      )
    }
  } catch (e) {
    checks.push({
      id: 'backend',
      label: 'Engine',
      status: 'fail',
      detail: `no engine process could start: ${message(e)}`,
      action: 'Reinstall the app; if it persists, run `fissionfusion doctor` and report what it prints.'
    })
  }
  return { ok: checks.every((c) => c.status !== 'fail'), checks }
}
