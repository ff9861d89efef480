/** Test helpers for jobs: temp workspaces and waiting for job events. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JobEvent } from '../../../src/shared/records'
import { openApp, type App, type AppOptions } from '../../../src/main/host/app'

/** Opens an app on a fresh temp workspace; `cleanup` closes it and deletes the folder. */
export function tempApp(options: Partial<AppOptions> = {}): App & { cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'ff-host-'))
  const app = openApp({ workspaceDir: dir, onEngineOutput: () => undefined, ...options })
  return Object.assign(app, {
    async cleanup() {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

/** Resolves with the first event of `jobId` that matches, within `ms`. */
export function nextEvent(
  app: App,
  jobId: () => string | undefined,
  match: (e: JobEvent) => boolean,
  ms = 30_000
): Promise<JobEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error('timed out waiting for a job event'))
    }, ms)
    const stop = app.jobs.subscribe((e) => {
      if (e.jobId === jobId() && match(e)) {
        clearTimeout(timer)
        stop()
        resolve(e)
      }
    })
  })
}

/** The value the selftest job writes at step i, computed here by hand from its definition. */
export function expectedValue(i: number): number {
  return ((i * 7919) % 1009) / 1009
}

/** Sum of expectedValue over steps 0..n-1. */
export function expectedSum(n: number): number {
  let s = 0
  for (let i = 0; i < n; i++) s += expectedValue(i)
  return s
}
