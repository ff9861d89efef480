/**
 * The store is the only code with SQL: no file of src/ outside src/main/store imports
 * better-sqlite3, prepares or executes statements, or contains an SQL statement.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const SRC = join(ROOT, 'src')
const STORE = join(SRC, 'main', 'store') + sep

/** What counts as SQL (or direct database access) in a source file. */
const PATTERNS: Array<[string, RegExp]> = [
  [
    'imports better-sqlite3',
    /from\s+['"]better-sqlite3['"]|require\(\s*['"]better-sqlite3['"]\s*\)|import\(\s*['"]better-sqlite3['"]\s*\)/
  ],
  ['prepares a statement', /\.prepare\s*\(/],
  ['executes SQL', /\b(db|database|sqlite|conn|connection)\s*\.\s*(exec|pragma|run)\s*\(/i],
  // A string literal that starts with an SQL statement, in any case...
  [
    'contains SQL',
    /['"`]\s*(SELECT\s+(\*|DISTINCT\s|count\(|[\w.]+\s*(,|\sFROM\s))|INSERT\s+(OR\s+\w+\s+)?INTO\s+\w+\s*(\(|VALUES|SELECT|DEFAULT)|UPDATE\s+\w+\s+SET\s+\w+\s*=|DELETE\s+FROM\s+\w+\s*(WHERE|['"`;]|$)|CREATE\s+(TABLE|(UNIQUE\s+)?INDEX|VIEW|TRIGGER)\s|ALTER\s+TABLE\s|DROP\s+(TABLE|INDEX)\s|PRAGMA\s+\w|WITH\s+\w+\s+AS\s*\()/i
  ],
  // ...or SQL written in capitals anywhere (continued lines of a statement).
  [
    'contains SQL',
    /\b(SELECT\s+[\w.*,\s()]+\sFROM\s+\w|INSERT\s+(OR\s+[A-Z]+\s+)?INTO\s+\w|UPDATE\s+\w+\s+SET\s+\w+\s*=|DELETE\s+FROM\s+\w|CREATE\s+(TABLE|(UNIQUE\s+)?INDEX)\s|ALTER\s+TABLE\s|DROP\s+TABLE\s|PRAGMA\s+[a-z_]+\s*(=|\())/
  ]
]

/** The SQL findings of one file's text: [line number, what]. */
export function findSql(text: string): Array<[number, string]> {
  const found: Array<[number, string]> = []
  text.split('\n').forEach((line, i) => {
    const kinds = new Set(PATTERNS.filter(([, re]) => re.test(line)).map(([what]) => what))
    for (const what of kinds) found.push([i + 1, what])
  })
  return found
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name)
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : sourceFiles(p)
    return /\.(ts|mts|cts|js|mjs|vue)$/.test(d.name) ? [p] : []
  })
}

describe('no SQL outside src/main/store', () => {
  it('the detector finds SQL and database calls, and ignores prose and regexes', () => {
    expect(findSql("db.prepare('x')").map((f) => f[1])).toContain('prepares a statement')
    expect(findSql('this.db.exec(sql)').map((f) => f[1])).toContain('executes SQL')
    expect(findSql("import Database from 'better-sqlite3'").map((f) => f[1])).toEqual(['imports better-sqlite3'])
    expect(findSql('const q = `SELECT id, name FROM runs`')).toHaveLength(1)
    expect(findSql("'select * from jobs'")).toHaveLength(1)
    expect(findSql('"INSERT OR REPLACE INTO metrics VALUES (1)"')).toHaveLength(1)
    expect(findSql("'UPDATE jobs SET status = 1'")).toHaveLength(1)
    expect(findSql("'delete from soups where 1'")).toHaveLength(1)
    expect(findSql('      WHERE x = 1 AND id IN (SELECT job_id FROM job_events)')).toHaveLength(1)
    expect(findSql('`CREATE TABLE x (a)`')).toHaveLength(1)
    expect(findSql("'PRAGMA user_version = 3'")).toHaveLength(1)
    // Ordinary code and English are not SQL.
    expect(findSql('const m = /^Bearer (.+)$/.exec(header)')).toEqual([])
    expect(findSql('// select the best member from each group, then update the soup')).toEqual([])
    expect(findSql("/** Metric used to select ingredients, e.g. 'accuracy', 'kappa'. */")).toEqual([])
    expect(findSql("log('insert into the queue, then delete from the list')")).toEqual([])
    expect(findSql('child.kill(signal)')).toEqual([])
  })

  it('no file of src/ outside src/main/store contains SQL', () => {
    const files = sourceFiles(SRC).filter((f) => !f.startsWith(STORE))
    expect(files.length).toBeGreaterThan(5)
    const offenders = files.flatMap((f) =>
      findSql(readFileSync(f, 'utf8')).map(([line, what]) => `${relative(ROOT, f)}:${line} ${what}`)
    )
    expect(offenders).toEqual([])
  })

  it('src/main/store does contain the SQL (the scan reads the right tree)', () => {
    const inStore = sourceFiles(STORE).flatMap((f) => findSql(readFileSync(f, 'utf8')))
    expect(inStore.length).toBeGreaterThan(20)
  })
})
