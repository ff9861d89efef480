import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { Store, StoreError } from '../../../src/main/store'
import { openDatabase } from '../../../src/main/store/db'
import { migrations, SCHEMA_VERSION } from '../../../src/main/store/migrations'

const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ff-store-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

const TABLES = [
  'datasets',
  'runs',
  'members',
  'metrics',
  'soups',
  'soup_ingredients',
  'evaluations',
  'exports',
  'jobs',
  'job_events',
  'selftest_steps'
]

describe('migrations', () => {
  it('migrate an empty (0-byte) file to the latest schema with WAL and foreign keys on', () => {
    const file = join(tmp(), 'fissionfusion.db')
    writeFileSync(file, '')
    const store = Store.open(file)
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION)
    expect(SCHEMA_VERSION).toBe(migrations.length)
    expect(store.journalMode()).toBe('wal')
    expect(store.integrityCheck()).toEqual(['ok'])
    store.close()
    const db = new Database(file, { readonly: true })
    const tables = (
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
    ).map((r) => r.name)
    for (const t of TABLES) expect(tables).toContain(t)
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    db.close()
  })

  it('enables foreign keys and a busy timeout on every connection', () => {
    const db = openDatabase(join(tmp(), 'a.db'))
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(5000)
    expect(() =>
      db
        .prepare(
          "INSERT INTO runs (id, name, dataset_id, kind, created_at, updated_at) VALUES ('r', 'r', 'nope', 'grid', '', '')"
        )
        .run()
    ).toThrow(/FOREIGN KEY/)
    db.close()
  })

  it('reopening a current database changes nothing', () => {
    const file = join(tmp(), 'a.db')
    Store.open(file).close()
    const before = sha(file)
    const s = Store.open(file)
    expect(s.schemaVersion()).toBe(SCHEMA_VERSION)
    s.close()
    expect(sha(file)).toBe(before)
  })

  it('refuses a database newer than the app with a clear message, and never alters it', () => {
    const dir = tmp()
    const file = join(dir, 'fissionfusion.db')
    const raw = new Database(file)
    raw.exec('CREATE TABLE future (x)')
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`)
    raw.close()
    const before = sha(file)
    let error: unknown
    try {
      Store.open(file)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(StoreError)
    expect((error as StoreError).code).toBe('schema_too_new')
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 5}`)
    expect((error as Error).message).toMatch(/newer version of the app.*not changed/)
    expect(sha(file)).toBe(before)
    // Not even switched to WAL: no -wal/-shm file appeared, the header is unchanged.
    expect(existsSync(file + '-wal')).toBe(false)
    const check = new Database(file, { readonly: true })
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete')
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 5)
    check.close()
  })

  it('adding a migration is one entry: only the new one runs, data is kept', () => {
    const file = join(tmp(), 'a.db')
    const s = Store.open(file)
    s.datasets.create({ id: 'ds_1', name: 'one', format: 'npz', task: 'single' })
    s.close()
    const next = [
      ...migrations,
      { version: SCHEMA_VERSION + 1, name: 'add source', sql: 'ALTER TABLE datasets ADD COLUMN source TEXT' }
    ]
    const db = openDatabase(file, next)
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1)
    const cols = (db.pragma('table_info(datasets)') as Array<{ name: string }>).map((c) => c.name)
    expect(cols).toContain('source')
    expect(db.prepare('SELECT name FROM datasets').pluck().all()).toEqual(['one'])
    db.close()
    // ...and the app without that migration now refuses the file.
    expect(() => Store.open(file)).toThrow(StoreError)
  })

  it('a failing migration rolls back entirely (no partial schema, version unchanged)', () => {
    const file = join(tmp(), 'a.db')
    Store.open(file).close()
    const broken = [
      ...migrations,
      {
        version: SCHEMA_VERSION + 1,
        name: 'broken',
        sql: 'CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);'
      }
    ]
    expect(() => openDatabase(file, broken)).toThrow(/no_such_table/)
    const db = new Database(file, { readonly: true })
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0)
    db.close()
  })

  it('rejects a migration list with a gap in its numbers', () => {
    const bad = [
      { version: 1, name: 'a', sql: '' },
      { version: 3, name: 'c', sql: '' }
    ]
    expect(() => openDatabase(join(tmp(), 'a.db'), bad)).toThrow(/version 3, expected 2/)
  })

  it('refuses a file that is not a database, naming it', () => {
    const file = join(tmp(), 'fissionfusion.db')
    writeFileSync(file, 'this is not sqlite, just text that is long enough to look like a header......')
    expect(() => Store.open(file)).toThrow(/is not a FissionFusion database/)
  })
})
