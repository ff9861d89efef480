/** `doctor`: what this installation runs on (backend and why, versions, threads, workspace). */
import { cpus, freemem, totalmem } from 'node:os'
import { APP_VERSION } from '../host/app'
import { Store } from '../store'
import { SCHEMA_VERSION } from '../store/migrations'
import { Workspace } from '../workspace'
import type { CliCommand } from './types'

export const doctorCommand: CliCommand = {
  command: 'doctor',
  description: 'Show the compute backend (and fallbacks with reasons), versions, threads and the workspace.',
  async run(ctx) {
    const { initBackend } = await import('../engine/compute')
    let backend: unknown
    let backendError: string | undefined
    try {
      backend = await initBackend({ backend: (ctx.globals.backend ?? 'auto') as 'auto' })
    } catch (e) {
      backendError = (e as Error).message
    }
    const dir = ctx.workspaceDir()
    let workspace: Record<string, unknown>
    if (Workspace.exists(dir)) {
      try {
        const store = Store.open(Workspace.open(dir).dbPath)
        try {
          workspace = {
            dir,
            exists: true,
            schemaVersion: store.schemaVersion(),
            integrity: store.integrityCheck().join('; '),
            journalMode: store.journalMode()
          }
        } finally {
          store.close()
        }
      } catch (e) {
        workspace = { dir, exists: true, error: (e as Error).message }
      }
    } else {
      workspace = { dir, exists: false, note: 'created on first use' }
    }
    const report = {
      app: { version: APP_VERSION, schemaVersion: SCHEMA_VERSION },
      node: process.versions.node,
      electron: process.versions.electron ?? null,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      memoryGiB: { total: +(totalmem() / 2 ** 30).toFixed(1), free: +(freemem() / 2 ** 30).toFixed(1) },
      backend: backend ?? null,
      ...(backendError ? { backendError } : {}),
      workspace
    }
    if (backendError) {
      process.exitCode = 1
    }
    return report
  },
  print(result, out) {
    const r = result as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
    out(
      `FissionFusion ${r.app.version} (schema ${r.app.schemaVersion}), node ${r.node}${r.electron ? `, electron ${r.electron}` : ''}, ${r.platform}, ${r.cpus} CPUs, ${r.memoryGiB.total} GiB`
    )
    if (r.backend) {
      const b = r.backend
      out(
        `backend: ${b.backend} (${b.device}, ${b.threads} thread${b.threads === 1 ? '' : 's'}${b.simd ? ', SIMD' : ''}), tfjs ${b.tfjsVersion}, requested ${b.requested}`
      )
      if (b.compute) out(`  compute: ${b.compute}`)
      for (const f of b.fallbacks ?? []) out(`  skipped ${f.backend}: ${f.reason}`)
      if (b.kernels?.length) out(`  own kernels: ${b.kernels.join(', ')}`)
      if (b.warning) out(`  WARNING: ${b.warning}`)
    } else {
      out(`backend: unavailable: ${r.backendError}`)
    }
    const w = r.workspace
    out(
      `workspace: ${w.dir}${w.exists ? (w.error ? ` (cannot open: ${w.error})` : ` (schema ${w.schemaVersion}, ${w.journalMode}, integrity ${w.integrity})`) : ' (not created yet)'}`
    )
  }
}
