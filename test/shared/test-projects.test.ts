/**
 * The test projects of vitest.config.ts (docs/TESTING.md): every test file runs in exactly one
 * of unit, integration and e2e; no listed entry is stale; unit files stay in-process.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import config, { E2E, INTEGRATION } from '../../vitest.config'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The glob matcher vitest itself matches `include` and `exclude` with (a dependency of vitest). */
const fromVitest = createRequire(createRequire(import.meta.url).resolve('vitest/package.json'))
const picomatch = fromVitest('picomatch') as (globs: string | string[]) => (path: string) => boolean

/** Every *.test.ts under test/, relative to the repository root with forward slashes. */
function testFiles(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return testFiles(path)
    return e.name.endsWith('.test.ts') ? [relative(ROOT, path).split(sep).join('/')] : []
  })
}

interface Project {
  name: string
  include: string[]
  exclude: string[]
  setupFiles: string[]
}

/** The inline projects as vitest resolves them: each extends the root block, whose arrays it appends to. */
function projects(): Project[] {
  const declared = (config.test?.projects ?? []) as Array<{
    test?: { name?: string; include?: string[]; exclude?: string[]; setupFiles?: string | string[] }
  }>
  const root = config.test ?? {}
  return declared.map((p) => ({
    name: p.test?.name ?? '',
    include: [...(root.include ?? []), ...(p.test?.include ?? [])],
    exclude: [...(root.exclude ?? []), ...(p.test?.exclude ?? [])],
    setupFiles: ([] as string[]).concat(root.setupFiles ?? [], p.test?.setupFiles ?? [])
  }))
}

const matchers = new Map<Project, [(path: string) => boolean, (path: string) => boolean]>()
function member(project: Project, file: string): boolean {
  if (!matchers.has(project)) {
    const none = (): boolean => false
    matchers.set(project, [picomatch(project.include), project.exclude.length > 0 ? picomatch(project.exclude) : none])
  }
  const [included, excluded] = matchers.get(project)!
  return included(file) && !excluded(file)
}

const files = testFiles()
const all = projects()
const byName = new Map(all.map((p) => [p.name, p]))

describe('test projects', () => {
  it('are unit, integration and e2e', () => {
    expect([...byName.keys()]).toEqual(['unit', 'integration', 'e2e'])
    expect(files.length).toBeGreaterThan(100)
  })

  it('hold every test file exactly once', () => {
    const wrong = files
      .map((file) => ({ file, in: all.filter((p) => member(p, file)).map((p) => p.name) }))
      .filter((f) => f.in.length !== 1)
    expect(wrong).toEqual([])
  })

  it('list no integration or e2e entry that matches no file (a moved or deleted test)', () => {
    const stale = [...INTEGRATION, ...E2E].filter((glob) => !files.some((f) => picomatch(glob)(f)))
    expect(stale).toEqual([])
  })

  it('e2e is the test/e2e folder; the CLI tests live under test/main/commands', () => {
    const e2e = files.filter((f) => member(byName.get('e2e')!, f))
    expect(e2e.length).toBeGreaterThan(0)
    expect(e2e.every((f) => f.startsWith('test/e2e/'))).toBe(true)
    expect(
      files.filter(
        (f) => f.startsWith('test/main/cli/') || (/-cli\.test\.ts$/.test(f) && !f.startsWith('test/main/commands/'))
      )
    ).toEqual([])
  })

  it('run unit files under the guard that keeps them in-process and fast', () => {
    expect(byName.get('unit')!.setupFiles).toEqual(['test/unit-guard.ts'])
    expect(byName.get('integration')!.setupFiles).toEqual([])
    expect(byName.get('e2e')!.setupFiles).toEqual([])
  })

  it('unit files run no engine job and use no child process, worker, CLI, Slurm, shared data, Debian data, Python or onnxruntime', () => {
    // What the guard cannot see at run time: an engine job run in-process, or a test skipped here
    // (outside CI) that needs the outside world. (This file is left out: it spells the patterns.)
    const outside = new RegExp(
      [
        /node:child_process|node:worker_threads/,
        /fixtures\/(process|main-process|slurm|data\/shared)/,
        /\/usr\/bin\/python3|\/usr\/share\/datasets|runOnnx\(/,
        /\brunPlan\(|\brunFusion\(|\blossPlane\(|processUnitRunner/
      ]
        .map((r) => r.source)
        .join('|')
    )
    const unit = files.filter((f) => member(byName.get('unit')!, f) && f !== 'test/shared/test-projects.test.ts')
    expect(unit.length).toBeGreaterThan(40)
    expect(unit.filter((f) => outside.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([])
  })
})
