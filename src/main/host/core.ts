/**
 * What an opened workspace is, as the handlers, the transports and the CLI see it: the types
 * only (host/app.ts builds one). A leaf of the host: it imports no module that imports it.
 */
import type { Reply, WorkspaceInfo } from '../../shared/api'
import type { Store } from '../store'
import type { Workspace } from '../workspace'
import type { JobHost } from './job-host'
import type { Session } from './session'

/** The workspace, its store and job host: what a handler works with. */
export interface AppCore {
  workspace: Workspace
  store: Store
  jobs: JobHost
  info(): WorkspaceInfo
  /** Stops running jobs (failed, resumable) and closes the store. */
  close(): Promise<void>
}

/** Answers a command; resolves to a Reply, never rejects. */
export type Dispatch = (command: string, request: unknown, session: Session) => Promise<Reply>

/** An open workspace with its store, jobs and dispatcher. */
export interface App extends AppCore {
  /** Answers a command of the contract (validated; never rejects). */
  dispatch: Dispatch
}
