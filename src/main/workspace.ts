/**
 * The workspace folder: `fissionfusion.db` plus the files of datasets, runs and exports.
 *
 *   fissionfusion.db              SQLite (WAL), see src/main/store
 *   datasets/<datasetId>/         dataset cache (engine/data/types.ts)
 *   runs/<runId>/members/<memberId>/   member checkpoints
 *   runs/<runId>/soups/<soupId>/  merged soup weights
 *   exports/                      exported model files
 *
 * Paths stored in the database are relative to the folder (`toRelative`), so a workspace can
 * move; `resolve` turns them back and refuses anything that escapes the folder.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'

/** Name of the database file that marks a folder as a workspace. */
export const DB_FILE = 'fissionfusion.db'
/** Application name used for the default user-data folder. */
export const APP_NAME = 'FissionFusion'

/** A folder that cannot be used as a workspace. */
export class WorkspaceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WorkspaceError'
  }
}

/**
 * The default workspace: the OS folder for large, machine-local application data (datasets and
 * checkpoints are gigabytes, so never a roaming profile): Linux `$XDG_DATA_HOME/FissionFusion`
 * (default `~/.local/share/FissionFusion`), macOS `~/Library/Application Support/FissionFusion`,
 * Windows `%LOCALAPPDATA%\FissionFusion`.
 */
export function defaultWorkspaceDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform
): string {
  const home = homedir()
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), APP_NAME)
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', APP_NAME)
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), APP_NAME)
}

/**
 * Where versions before 0.2 put the default workspace (Electron's `userData`: `%APPDATA%` on
 * Windows, `~/.config` on Linux). A workspace found there and none at the new default is still
 * used, so an upgrade loses nothing; `doctor` names the folder in use.
 */
export function legacyWorkspaceDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform
): string {
  const home = homedir()
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), APP_NAME)
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', APP_NAME)
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), APP_NAME)
}

/**
 * The folder to use: the `--workspace` option, else env FF_WORKSPACE, else the default (or the
 * pre-0.2 default when only that one holds a workspace).
 */
export function chooseWorkspaceDir(
  option?: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform
): string {
  if (option || env.FF_WORKSPACE) return resolve(option || env.FF_WORKSPACE!)
  const current = defaultWorkspaceDir(env, platform)
  const legacy = legacyWorkspaceDir(env, platform)
  if (legacy !== current && !existsSync(join(current, DB_FILE)) && existsSync(join(legacy, DB_FILE)))
    return resolve(legacy)
  return resolve(current)
}

/** An opened workspace folder (the layout exists; the database is opened by the store). */
export class Workspace {
  /** Absolute folder. */
  readonly dir: string
  /** Why nothing can be written here (read-only file system, folder or database file), or null. */
  readonly readOnly: string | null

  private constructor(dir: string, readOnly: string | null = null) {
    this.dir = dir
    this.readOnly = readOnly
  }

  /**
   * Opens the workspace at `dir`, creating it when the folder is missing or empty.
   * Refuses (WorkspaceError) a file, or a non-empty folder without fissionfusion.db.
   */
  static open(dir: string): Workspace {
    const abs = resolve(dir)
    if (existsSync(abs)) {
      if (!statSync(abs).isDirectory()) throw new WorkspaceError(`${abs} is a file, not a workspace folder`)
      const names = readdirSync(abs)
      if (names.length > 0 && !names.includes(DB_FILE)) {
        throw new WorkspaceError(
          `${abs} is not a FissionFusion workspace: it is not empty and has no ${DB_FILE}. Choose an empty folder or an existing workspace.`
        )
      }
    }
    let readOnly: string | null = null
    try {
      for (const sub of ['datasets', 'runs', 'exports']) mkdirSync(join(abs, sub), { recursive: true })
      accessSync(abs, constants.W_OK)
      if (existsSync(join(abs, DB_FILE))) accessSync(join(abs, DB_FILE), constants.W_OK)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (!['EROFS', 'EACCES', 'EPERM'].includes(code ?? '') || !existsSync(join(abs, DB_FILE))) throw e
      readOnly =
        code === 'EROFS'
          ? 'the workspace is on a read-only file system'
          : 'the workspace folder or its database file is not writable'
    }
    return new Workspace(abs, readOnly)
  }

  /** True when `dir` holds a workspace database. */
  static exists(dir: string): boolean {
    return existsSync(join(resolve(dir), DB_FILE))
  }

  /** The database file. */
  get dbPath(): string {
    return join(this.dir, DB_FILE)
  }

  /** `datasets/<id>` (absolute). */
  datasetDir(datasetId: string): string {
    return this.resolve(`datasets/${datasetId}`)
  }

  /** `runs/<id>` (absolute). */
  runDir(runId: string): string {
    return this.resolve(`runs/${runId}`)
  }

  /** `runs/<runId>/members/<memberId>` (absolute). */
  memberDir(runId: string, memberId: string): string {
    return this.resolve(`runs/${runId}/members/${memberId}`)
  }

  /** `runs/<runId>/soups/<soupId>` (absolute). */
  soupDir(runId: string, soupId: string): string {
    return this.resolve(`runs/${runId}/soups/${soupId}`)
  }

  /** `exports` (absolute). */
  get exportsDir(): string {
    return join(this.dir, 'exports')
  }

  /** A path inside the workspace as stored in the database: relative, `/`-separated. */
  toRelative(absPath: string): string {
    const rel = relative(this.dir, resolve(absPath))
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
      throw new WorkspaceError(`${absPath} is outside the workspace`)
    return rel.split(sep).join('/')
  }

  /** The absolute path of a workspace-relative path; refuses one that leaves the workspace. */
  resolve(relPath: string): string {
    if (isAbsolute(relPath)) throw new WorkspaceError(`expected a path relative to the workspace, got an absolute one`)
    const abs = resolve(this.dir, relPath)
    if (abs !== this.dir && !abs.startsWith(this.dir + sep))
      throw new WorkspaceError(`${relPath} points outside the workspace`)
    return abs
  }
}
