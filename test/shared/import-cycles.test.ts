/**
 * No import cycle under src/ (issue: clean seams). Every static import between the project's
 * own files counts, type-only imports included (a cycle over one type is still two modules
 * that cannot be understood apart); dynamic `import()` does not (it runs later, on demand).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '../..')
const SRC = join(ROOT, 'src')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : files(p)
    return /\.(ts|vue)$/.test(name) && !name.endsWith('.d.ts') ? [p] : []
  })
}

function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null
  const base = resolve(dirname(from), spec)
  for (const candidate of [base, `${base}.ts`, `${base}.vue`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  }
  return null
}

/** Static imports and re-exports of a file (not `import()`). */
export function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const out: string[] = []
  for (const m of src.matchAll(
    /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]/g
  )) {
    const target = resolveImport(file, m[1])
    if (target) out.push(target)
  }
  return out
}

/** Every elementary cycle's first occurrence, as a list of repo-relative paths. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (n: string): void => {
    state.set(n, 'open')
    stack.push(n)
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') found.push([...stack.slice(stack.indexOf(m)), m].map((f) => relative(ROOT, f)))
      else if (!state.has(m)) visit(m)
    }
    stack.pop()
    state.set(n, 'done')
  }
  for (const n of graph.keys()) if (!state.has(n)) visit(n)
  return found
}

describe('import graph of src/', () => {
  const graph = new Map(files(SRC).map((f) => [f, importsOf(f)]))

  it('reads the imports it should (a check of the checker)', () => {
    expect(graph.size).toBeGreaterThan(100)
    const app = graph.get(join(SRC, 'main/host/app.ts')) ?? []
    expect(app).toContain(join(SRC, 'main/store/index.ts'))
  })

  it('has no cycle', () => {
    expect(cycles(graph)).toEqual([])
  })
})
