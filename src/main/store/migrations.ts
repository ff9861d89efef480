/**
 * Numbered schema migrations, applied in order inside one transaction when a store opens
 * (see db.ts). The database's `PRAGMA user_version` is the number of the last one applied.
 *
 * To change the schema, APPEND one entry `{ version: N + 1, name, sql }` (never edit an
 * entry that has shipped): e.g. `{ version: 2, name: 'dataset source', sql:
 * 'ALTER TABLE datasets ADD COLUMN source_json TEXT' }`, then map the column in its
 * repository. A database whose version is above the last entry is refused unchanged.
 */

/** One schema step. */
export interface Migration {
  /** 1, 2, 3, ... without gaps. */
  version: number
  /** A few words on what it changes. */
  name: string
  /** Statements run with `exec` inside the migration transaction. */
  sql: string
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE datasets (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  format       TEXT NOT NULL,
  task         TEXT NOT NULL CHECK (task IN ('single', 'multilabel')),
  status       TEXT NOT NULL DEFAULT 'importing' CHECK (status IN ('importing', 'ready', 'failed')),
  classes_json TEXT NOT NULL DEFAULT '[]',
  counts_json  TEXT NOT NULL DEFAULT '{}',
  meta_json    TEXT NOT NULL DEFAULT 'null',
  dir          TEXT NOT NULL,
  error        TEXT,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);

CREATE TABLE runs (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  dataset_id  TEXT NOT NULL REFERENCES datasets(id) ON DELETE RESTRICT,
  kind        TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  config_json TEXT NOT NULL DEFAULT '{}',
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX runs_dataset ON runs(dataset_id);

CREATE TABLE members (
  id               TEXT PRIMARY KEY,
  run_id           TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  parent_id        TEXT REFERENCES members(id) ON DELETE SET NULL,
  group_key        TEXT,
  hyperparams_json TEXT NOT NULL DEFAULT '{}',
  epochs           INTEGER NOT NULL DEFAULT 0 CHECK (epochs >= 0),
  wall_seconds     REAL NOT NULL DEFAULT 0 CHECK (wall_seconds >= 0),
  backend          TEXT,
  checkpoint_path  TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  val_score        REAL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE INDEX members_run ON members(run_id);
CREATE INDEX members_parent ON members(parent_id);

CREATE TABLE metrics (
  member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
  epoch     INTEGER NOT NULL CHECK (epoch >= 0),
  name      TEXT NOT NULL,
  value     REAL NOT NULL,
  PRIMARY KEY (member_id, epoch, name)
) WITHOUT ROWID;

CREATE TABLE soups (
  id               TEXT PRIMARY KEY,
  run_id           TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name             TEXT NOT NULL,
  method           TEXT NOT NULL,
  group_by         TEXT,
  group_key        TEXT,
  selection_metric TEXT NOT NULL,
  val_score        REAL,
  checkpoint_path  TEXT,
  wall_seconds     REAL NOT NULL DEFAULT 0 CHECK (wall_seconds >= 0),
  backend          TEXT,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  config_json      TEXT NOT NULL DEFAULT '{}',
  created_at       TEXT NOT NULL
);
CREATE INDEX soups_run ON soups(run_id);

CREATE TABLE soup_ingredients (
  soup_id       TEXT NOT NULL REFERENCES soups(id) ON DELETE CASCADE,
  position      INTEGER NOT NULL CHECK (position >= 0),
  member_id     TEXT REFERENCES members(id) ON DELETE CASCADE,
  child_soup_id TEXT REFERENCES soups(id) ON DELETE CASCADE,
  weight        REAL NOT NULL CHECK (weight >= 0 AND weight <= 1),
  kept          INTEGER NOT NULL CHECK (kept IN (0, 1)),
  step_score    REAL,
  PRIMARY KEY (soup_id, position),
  CHECK ((member_id IS NULL) <> (child_soup_id IS NULL))
) WITHOUT ROWID;

CREATE TABLE evaluations (
  id         INTEGER PRIMARY KEY,
  member_id  TEXT REFERENCES members(id) ON DELETE CASCADE,
  soup_id    TEXT REFERENCES soups(id) ON DELETE CASCADE,
  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  split      TEXT NOT NULL,
  metric     TEXT NOT NULL,
  value      REAL NOT NULL,
  ci_lo      REAL,
  ci_hi      REAL,
  n          INTEGER,
  created_at TEXT NOT NULL,
  CHECK ((member_id IS NULL) <> (soup_id IS NULL))
);
CREATE UNIQUE INDEX evaluations_key ON evaluations(ifnull(member_id, ''), ifnull(soup_id, ''), dataset_id, split, metric);
CREATE INDEX evaluations_soup ON evaluations(soup_id);
CREATE INDEX evaluations_member ON evaluations(member_id);

CREATE TABLE exports (
  id         TEXT PRIMARY KEY,
  soup_id    TEXT REFERENCES soups(id) ON DELETE SET NULL,
  member_id  TEXT REFERENCES members(id) ON DELETE SET NULL,
  format     TEXT NOT NULL,
  path       TEXT NOT NULL,
  bytes      INTEGER NOT NULL CHECK (bytes >= 0),
  sha256     TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE jobs (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  params_json TEXT NOT NULL DEFAULT '{}',
  progress    REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
  phase       TEXT,
  eta_seconds REAL,
  resumable   INTEGER NOT NULL DEFAULT 0 CHECK (resumable IN (0, 1)),
  attempt     INTEGER NOT NULL DEFAULT 0,
  state_json  TEXT NOT NULL DEFAULT 'null',
  result_json TEXT NOT NULL DEFAULT 'null',
  error       TEXT,
  exit_reason TEXT,
  pid         INTEGER,
  run_id      TEXT REFERENCES runs(id) ON DELETE SET NULL,
  dataset_id  TEXT REFERENCES datasets(id) ON DELETE SET NULL,
  created_at  TEXT NOT NULL,
  started_at  TEXT,
  finished_at TEXT
);
CREATE INDEX jobs_status ON jobs(status);

CREATE TABLE job_events (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  type         TEXT NOT NULL CHECK (type IN ('started', 'progress', 'log', 'completed', 'failed', 'cancelled')),
  payload_json TEXT NOT NULL,
  at           TEXT NOT NULL
);
CREATE INDEX job_events_job ON job_events(job_id, seq);

-- Rows written by the diagnostic 'selftest' job, one per step, in the same transaction
-- as the job's state: a crash never leaves one without the other.
CREATE TABLE selftest_steps (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  step   INTEGER NOT NULL,
  value  REAL NOT NULL,
  PRIMARY KEY (job_id, step)
) WITHOUT ROWID;
`
  },
  {
    version: 2,
    name: 'file hashes',
    sql: `
-- SHA-256 of every weights file as it was written (checkpoints of members, soups), checked
-- before use; a file that no longer matches is marked damaged with the reason.
CREATE TABLE file_hashes (
  path        TEXT PRIMARY KEY,
  sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
  bytes       INTEGER NOT NULL CHECK (bytes >= 0),
  recorded_at TEXT NOT NULL,
  damaged     TEXT
) WITHOUT ROWID;
`
  }
]

/** The schema version this app writes: the last migration's number. */
export const SCHEMA_VERSION = migrations[migrations.length - 1].version
