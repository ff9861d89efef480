/**
 * The workspace store: one SQLite database (WAL, foreign keys) and its repositories, the
 * only code in the app that contains SQL. Open one Store per process (the app and each
 * engine process open their own; WAL lets them work side by side).
 *
 * To add a table or column: append a migration in migrations.ts, then a repository method
 * (or a new repository in repos/ added to Store below). Writes that belong together go in
 * one repository method wrapped in `db.transaction`.
 */
import { openDatabase, openDatabaseReadOnly, SCHEMA_VERSION, StoreError, type Db } from './db'
import { DatasetsRepo } from './repos/datasets'
import { EvaluationsRepo } from './repos/evaluations'
import { FilesRepo } from './repos/files'
import { JobsRepo } from './repos/jobs'
import { RunsRepo } from './repos/runs'
import { SelftestRepo } from './repos/selftest'
import { SoupsRepo } from './repos/soups'

export { SCHEMA_VERSION, StoreError }
export type { NewDataset, DatasetUpdate } from './repos/datasets'
export type { NewRun, NewMember, MemberUpdate } from './repos/runs'
export type { NewSoup, NewIngredient } from './repos/soups'
export type { NewEvaluation, EvaluationFilter } from './repos/evaluations'
export type { NewJob } from './repos/jobs'
export type { FileHashRecord } from './repos/files'

/** An open workspace database. */
export class Store {
  readonly datasets: DatasetsRepo
  readonly runs: RunsRepo
  readonly soups: SoupsRepo
  readonly evaluations: EvaluationsRepo
  readonly jobs: JobsRepo
  readonly selftest: SelftestRepo
  /** SHA-256 of weights files as written (integrity checks before use). */
  readonly files: FilesRepo

  private constructor(
    private readonly db: Db,
    /** Database file. */ readonly path: string
  ) {
    this.datasets = new DatasetsRepo(db)
    this.runs = new RunsRepo(db)
    this.soups = new SoupsRepo(db)
    this.evaluations = new EvaluationsRepo(db)
    this.jobs = new JobsRepo(db)
    this.selftest = new SelftestRepo(db)
    this.files = new FilesRepo(db)
  }

  /**
   * Opens (creating and migrating) the database file; throws StoreError on a newer schema.
   * With `readOnly` nothing is created, migrated or written (a read-only workspace).
   */
  static open(path: string, o: { readOnly?: boolean } = {}): Store {
    return new Store(o.readOnly ? openDatabaseReadOnly(path) : openDatabase(path), path)
  }

  /**
   * Runs `fn` in one transaction (nested calls become savepoints), for callers that combine
   * several repository writes that belong together. IMMEDIATE: the write lock is taken (waiting
   * up to the busy timeout) before the first read, so another process (the CLI beside the app)
   * can never make it fail half-way with SQLITE_BUSY.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate()
  }

  /** Schema version of the open database (PRAGMA user_version). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number
  }

  /** Result of PRAGMA integrity_check: ['ok'] when the file is sound. */
  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check)
  }

  /** Rows violating a foreign key (empty when consistent). */
  foreignKeyCheck(): unknown[] {
    return this.db.pragma('foreign_key_check') as unknown[]
  }

  /** Journal mode in force ('wal'). */
  journalMode(): string {
    return this.db.pragma('journal_mode', { simple: true }) as string
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}
