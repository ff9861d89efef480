/**
 * The app core shared by the Electron main process, the bridge and the CLI: an opened
 * workspace, its store, the job host and the command dispatcher.
 *
 *   const app = openApp({ workspaceDir })           // CLI/tests: forks engine processes with tsx
 *   const app = openApp({ workspaceDir, launcher })  // Electron: a utilityProcess launcher
 *   await app.dispatch('listJobs', {}, session)
 *   await app.close()
 */
import { Store } from '../store'
import { APP_VERSION } from '../version'
import { Workspace } from '../workspace'
import type { App } from './core'
import { createDispatcher, createHandlers } from './handlers'
import { JobHost, type JobHostOptions } from './job-host'

export type { App } from './core'
export { APP_VERSION } from '../version'

/** Options of openApp. */
export interface AppOptions extends Omit<JobHostOptions, 'workspace' | 'store'> {
  /** Workspace folder (created when missing or empty; see workspace.ts). */
  workspaceDir: string
  /** Mark jobs left running by a crashed app as failed/resumable at open (default true). */
  recoverOrphans?: boolean
}

/** Opens (or creates) the workspace and everything on it. Throws WorkspaceError / StoreError. */
export function openApp(options: AppOptions): App {
  const workspace = Workspace.open(options.workspaceDir)
  // A read-only workspace (file system, folder or database file) opens for reading: lists, runs,
  // charts work; every job is refused with the reason (job-host.ts), and the UI shows a banner.
  const store = Store.open(workspace.dbPath, { readOnly: workspace.readOnly !== null })
  const jobs = new JobHost({ ...options, workspace, store })
  if (options.recoverOrphans !== false && !workspace.readOnly) jobs.recoverOrphans()
  const core: Omit<App, 'dispatch'> = {
    workspace,
    store,
    jobs,
    info: () => ({
      dir: workspace.dir,
      schemaVersion: store.schemaVersion(),
      appVersion: APP_VERSION,
      ...(workspace.readOnly ? { readOnly: workspace.readOnly } : {}),
      counts: {
        datasets: store.datasets.count(),
        runs: store.runs.count(),
        members: store.runs.countMembers(),
        soups: store.soups.count(),
        jobs: store.jobs.count()
      }
    }),
    close: async () => {
      await jobs.close()
      store.close()
    }
  }
  return { ...core, dispatch: createDispatcher(createHandlers(core)) }
}
