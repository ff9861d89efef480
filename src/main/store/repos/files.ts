/** SHA-256 of weights files as written, and which of them were later found damaged. */
import type { Db } from '../db'
import { now, relPath } from '../util'

/** One recorded file. */
export interface FileHashRecord {
  /** Workspace-relative path. */
  path: string
  /** Lower-case hex SHA-256 recorded when the file was written. */
  sha256: string
  bytes: number
  recordedAt: string
  /** Why the file was found damaged, or null. */
  damaged: string | null
}

interface Row {
  path: string
  sha256: string
  bytes: number
  recorded_at: string
  damaged: string | null
}

export class FilesRepo {
  constructor(private readonly db: Db) {}

  /** Records (or replaces, after a rewrite) the hash of a file just written; clears any damage mark. */
  record(path: string, sha256: string, bytes: number): void {
    this.db
      .prepare(
        `INSERT INTO file_hashes (path, sha256, bytes, recorded_at, damaged) VALUES (?, ?, ?, ?, NULL)
      ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, bytes = excluded.bytes, recorded_at = excluded.recorded_at, damaged = NULL`
      )
      .run(relPath(path, 'path'), sha256, bytes, now())
  }

  get(path: string): FileHashRecord | undefined {
    const r = this.db.prepare('SELECT * FROM file_hashes WHERE path = ?').get(path) as Row | undefined
    return r && { path: r.path, sha256: r.sha256, bytes: r.bytes, recordedAt: r.recorded_at, damaged: r.damaged }
  }

  /** Marks a recorded file damaged, with the reason. */
  markDamaged(path: string, reason: string): void {
    this.db.prepare('UPDATE file_hashes SET damaged = ? WHERE path = ?').run(reason, path)
  }

  /** Files marked damaged. */
  damaged(): FileHashRecord[] {
    return (this.db.prepare('SELECT * FROM file_hashes WHERE damaged IS NOT NULL ORDER BY path').all() as Row[]).map(
      (r) => ({ path: r.path, sha256: r.sha256, bytes: r.bytes, recordedAt: r.recorded_at, damaged: r.damaged })
    )
  }
}
