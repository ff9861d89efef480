/**
 * The Electron main process never loads TensorFlow.js: backend probing, inspection and anything
 * that needs tfjs run in engine processes (issue: no tfjs in the main process). Checked twice:
 * statically on the electron-vite build output (every module the main entry imports before it
 * runs), and at run time on the sources (the requests the window makes, answered by openApp).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../fixtures/data/shared'
import { ROOT } from '../fixtures/process'

const run = promisify(execFile)
const OUT_MAIN = join(ROOT, 'out', 'main', 'index.js')
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** Bare module names reachable from `entry` through static imports of the bundle's own files. */
function staticGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = []
  const packages = new Set<string>()
  const todo = [entry]
  while (todo.length) {
    const file = todo.pop()!
    if (files.includes(file)) continue
    files.push(file)
    const src = readFileSync(file, 'utf8')
    // import … from "x" / import "x" / export … from "x" (not import("x"), which runs only when called)
    for (const m of src.matchAll(/(?:^|[;\n])\s*(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/g)) {
      const spec = m[1]
      if (spec.startsWith('.')) todo.push(join(dirname(file), spec))
      else packages.add(spec)
    }
  }
  return { files, packages }
}

describe('no TensorFlow.js in the Electron main process', () => {
  it('the built main entry imports no @tensorflow module when it starts', () => {
    if (!existsSync(OUT_MAIN) && process.env.CI !== 'true') return
    expect(existsSync(OUT_MAIN), 'out/main/index.js: run `npm run build` first').toBe(true)
    const { files, packages } = staticGraph(OUT_MAIN)
    expect(files.length).toBeGreaterThan(1)
    expect(packages.has('electron')).toBe(true)
    expect([...packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([])
  })

  it.runIf(HAVE_SHARED_DATA)(
    "answering the window's requests (backend, import, inspect, estimate) loads no @tensorflow module in the main process",
    async () => {
      const ws = mkdtempSync(join(tmpdir(), 'ff-main-graph-'))
      dirs.push(ws)
      const npz = join(SHARED_DATA, 'medmnist', 'retinamnist.npz')
      const fixture = join(ROOT, 'test', 'fixtures', 'main-process.ts')
      const once = async (mode: string): Promise<{ outcomes: Record<string, unknown>; tensorflow: string[] }> => {
        const dir = join(ws, mode)
        const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture, dir, npz, mode], {
          cwd: ROOT,
          maxBuffer: 16 << 20
        })
        return JSON.parse(stdout.trim().split('\n').pop()!)
      }
      const app = await once('app')
      expect(app.outcomes).toMatchObject({
        workspaceInfo: true,
        backendInfo: true,
        import: 'completed',
        inspectDataset: true,
        estimateRun: true,
        listJobs: true
      })
      expect(app.tensorflow).toEqual([])
      // The same check sees tfjs when this process does load the engine's compute module.
      const control = await once('control')
      expect(control.tensorflow.length).toBeGreaterThan(0)
    }
  )
})
