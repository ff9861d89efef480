/**
 * The app core shared by the Electron main process, the bridge and the CLI: an opened
 * workspace, its store, the job host and the command dispatcher.
 *
 *   const app = openApp({ workspaceDir })           // CLI/tests: forks engine processes with tsx
 *   const app = openApp({ workspaceDir, launcher })  // Electron: a utilityProcess launcher
 *   await app.dispatch('listJobs', {}, session)
 *   await app.close()
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { WorkspaceInfo } from '../../shared/api'
import { Store } from '../store'
import { Workspace } from '../workspace'
import { createDispatcher, createHandlers, type Dispatch } from './handlers'
import { JobHost, type JobHostOptions } from './job-host'

/** The app's version: from the nearest package.json above this file (sources or built out/). */
export const APP_VERSION: string = findVersion(dirname(fileURLToPath(import.meta.url)))

function findVersion(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const file = join(d, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'fissionfusion' && pkg.version) return pkg.version
    }
    if (dirname(d) === d) return 'unknown'
  }
}

/** Options of openApp. */
export interface AppOptions extends Omit<JobHostOptions, 'workspace' | 'store'> {
  /** Workspace folder (created when missing or empty; see workspace.ts). */
  workspaceDir: string
  /** Mark jobs left running by a crashed app as failed/resumable at open (default true). */
  recoverOrphans?: boolean
}

/** An open workspace with its store, jobs and dispatcher. */
export interface App {
  workspace: Workspace
  store: Store
  jobs: JobHost
  /** Answers a command of the contract (validated; never rejects). */
  dispatch: Dispatch
  info(): WorkspaceInfo
  /** Stops running jobs (failed, resumable) and closes the store. */
  close(): Promise<void>
}

/** Opens (or creates) the workspace and everything on it. Throws WorkspaceError / StoreError. */
export function openApp(options: AppOptions): App {
  const workspace = Workspace.open(options.workspaceDir)
  // A read-only workspace (file system, folder or database file) opens for reading: lists, runs,
  // charts work; every job is refused with the reason (job-host.ts), and the UI shows a banner.
  const store = Store.open(workspace.dbPath, { readOnly: workspace.readOnly !== null })
  const jobs = new JobHost({ ...options, workspace, store })
  if (options.recoverOrphans !== false && !workspace.readOnly) jobs.recoverOrphans()
  const app: App = {
    workspace,
    store,
    jobs,
    dispatch: undefined as unknown as Dispatch,
    info: () => ({
      dir: workspace.dir,
      schemaVersion: store.schemaVersion(),
      appVersion: APP_VERSION,
      ...(workspace.readOnly ? { readOnly: workspace.readOnly } : {}),
      counts: {
        datasets: store.datasets.count(), runs: store.runs.count(), members: store.runs.countMembers(),
        soups: store.soups.count(), jobs: store.jobs.count()
      }
    }),
    close: async () => {
      await jobs.close()
      store.close()
    }
  }
  app.dispatch = createDispatcher(createHandlers(app))
  return app
}
