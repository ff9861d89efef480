/**
 * Where each runtime finds the native binaries built for it.
 *
 * - The CLI and tests run on Node: the better-sqlite3 that `npm ci` built in node_modules, the
 *   kernels in native/build/Release (both for Node's ABI; the kernels are N-API).
 * - The desktop app runs on Electron, whose ABI differs: the installer carries the binaries
 *   built for Electron at packaging time (scripts/build-electron-natives.mjs) in its resources
 *   folder, `resources/native/` (electron-builder.json `extraResources`); `npm run dev` uses
 *   the same build in native/electron/ of the repository.
 *
 * Plain Node only (a leaf module): both the store and the engine use it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** The native binaries the app ships. */
export type NativeBinary = 'better_sqlite3.node' | 'ff_native.node'

/**
 * The packaged app's resources folder: env FF_RESOURCES_DIR (set by the app for its engine
 * processes), else Electron's `process.resourcesPath` in a packaged app; undefined on Node.
 */
export function resourcesDir(
  env: NodeJS.ProcessEnv = process.env,
  proc: { resourcesPath?: string; versions: NodeJS.ProcessVersions } = process
): string | undefined {
  if (env.FF_RESOURCES_DIR) return env.FF_RESOURCES_DIR
  if (proc.versions.electron && proc.resourcesPath && existsSync(join(proc.resourcesPath, 'native')))
    return proc.resourcesPath
  return undefined
}

/**
 * The binary built for this runtime in the packaged resources (or, on Electron from the
 * repository, native/electron/ beside `repoNative`), or undefined: use the Node build.
 */
export function electronBinary(
  name: NativeBinary,
  o: { resources?: string; repoNative?: string; electron?: boolean } = {}
): string | undefined {
  const resources = o.resources ?? resourcesDir()
  if (resources) {
    const file = join(resources, 'native', name)
    if (existsSync(file)) return file
  }
  const electron = o.electron ?? Boolean(process.versions.electron)
  if (electron && o.repoNative) {
    const file = join(o.repoNative, 'electron', name)
    if (existsSync(file)) return file
  }
  return undefined
}
