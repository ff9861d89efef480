/**
 * Opening the workspace database: pragmas (WAL, foreign keys, busy timeout) and the
 * migrations of migrations.ts, all applied in one IMMEDIATE transaction. A database newer
 * than this app is refused before anything is written to it.
 */
import Database from 'better-sqlite3'
import { copyFileSync, existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { electronBinary } from '../platform/binaries'
import { migrations, SCHEMA_VERSION, type Migration } from './migrations'

/** A better-sqlite3 connection (only store/ code sees it). */
export type Db = Database.Database

/** Why the store could not open. */
export class StoreError extends Error {
  constructor(
    /** 'schema_too_new' | 'bad_migrations' | 'not_a_database' */
    readonly code: 'schema_too_new' | 'bad_migrations' | 'not_a_database',
    message: string
  ) {
    super(message)
    this.name = 'StoreError'
  }
}

/** How long a writer waits for another process's lock before failing, in ms. */
export const BUSY_TIMEOUT_MS = 10_000

function readUserVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number
}

function checkMigrationList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new StoreError('bad_migrations', `migration #${i} has version ${m.version}, expected ${i + 1}`)
  })
}

function refuseIfNewer(version: number, path: string, latest: number): void {
  if (version > latest) {
    throw new StoreError(
      'schema_too_new',
      `The workspace database ${path} has schema version ${version}, but this FissionFusion supports up to ${latest}. ` +
        'It was written by a newer version of the app: update FissionFusion. The database was not changed.'
    )
  }
}

/**
 * better-sqlite3's binary for this runtime: under Electron the one built for Electron's ABI
 * (packaged resources, or native/electron/ of the repository), else the package's own build.
 */
export function sqliteOptions(resources?: string): { nativeBinding?: string } {
  const file = electronBinary('better_sqlite3.node', { resources, repoNative: repoNativeDir() })
  return file ? { nativeBinding: file } : {}
}

/** native/ of the repository, found upwards from this file (sources or out/main). */
function repoNativeDir(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return join(dir, 'native')
  }
  return undefined
}

/**
 * Opens (creating if needed) the database at `path` and migrates it to the latest schema.
 * Throws StoreError('schema_too_new') without writing anything when the file is newer.
 */
export function openDatabase(path: string, list: readonly Migration[] = migrations): Db {
  checkMigrationList(list)
  const latest = list.length === 0 ? 0 : list[list.length - 1].version
  // Read the version through a read-only connection first: even setting WAL mode writes the header.
  if (existsSync(path) && statSync(path).size > 0) {
    let probe: Db | undefined
    try {
      probe = new Database(path, { readonly: true, fileMustExist: true, ...sqliteOptions() })
      probe.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
      refuseIfNewer(readUserVersion(probe), path, latest)
    } catch (e) {
      if (e instanceof StoreError) throw e
      throw new StoreError('not_a_database', `${path} is not a FissionFusion database: ${(e as Error).message}`)
    } finally {
      probe?.close()
    }
  }
  const db = new Database(path, sqliteOptions())
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrate(db, path, list, latest)
    return db
  } catch (e) {
    db.close()
    throw e
  }
}

function migrate(db: Db, path: string, list: readonly Migration[], latest: number): void {
  const apply = db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = readUserVersion(db)
    refuseIfNewer(current, path, latest)
    for (const m of list) if (m.version > current) db.exec(m.sql)
    if (current !== latest) db.pragma(`user_version = ${latest}`)
  })
  apply.immediate()
  const fkProblems = db.pragma('foreign_key_check') as unknown[]
  if (fkProblems.length > 0)
    throw new StoreError('bad_migrations', `foreign key check failed after migration: ${JSON.stringify(fkProblems[0])}`)
}

/**
 * Opens the database read-only, writing nothing next to it: straight when SQLite can (no WAL
 * left, or its -shm readable), else from a snapshot copy in the temporary folder (a WAL database
 * in a read-only folder cannot be opened in place). Refuses a schema it cannot read unmigrated.
 */
export function openDatabaseReadOnly(path: string, list: readonly Migration[] = migrations): Db {
  const latest = list.length === 0 ? 0 : list[list.length - 1].version
  const check = (db: Db): Db => {
    const version = readUserVersion(db)
    refuseIfNewer(version, path, latest)
    if (version < latest) {
      db.close()
      throw new StoreError(
        'bad_migrations',
        `The workspace database ${path} is read-only and has schema version ${version}, older than this app's ${latest}: open it once where it is writable to upgrade it.`
      )
    }
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    return db
  }
  try {
    return check(new Database(path, { readonly: true, fileMustExist: true, ...sqliteOptions() }))
  } catch (e) {
    if (e instanceof StoreError) throw e
  }
  const dir = mkdtempSync(join(tmpdir(), 'ff-readonly-'))
  for (const suffix of ['', '-wal'])
    if (existsSync(path + suffix)) copyFileSync(path + suffix, join(dir, `snapshot.db${suffix}`))
  try {
    return check(new Database(join(dir, 'snapshot.db'), { readonly: true, fileMustExist: true, ...sqliteOptions() }))
  } catch (e) {
    if (e instanceof StoreError) throw e
    throw new StoreError('not_a_database', `${path} cannot be read: ${(e as Error).message}`)
  }
}

export { SCHEMA_VERSION }
