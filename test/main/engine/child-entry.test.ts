import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { childScript } from '../../../src/main/engine/child-entry'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('children of an engine process', () => {
  it('from the sources: the TypeScript file beside the caller, through tsx', () => {
    const caller = pathToFileURL(join(__dirname, '../../../src/main/engine/fission/pool.ts')).href
    const s = childScript(caller, './worker.ts', 'worker')
    expect(s.file).toBe(join(__dirname, '../../../src/main/engine/fission/worker.ts'))
    expect(s.execArgv[0]).toBe('--import')
    expect(s.execArgv[1]).toMatch(/tsx/)
  })

  it('from the bundle (the desktop app): the built entry beside engine.js, run as it is, from a chunk at any depth', () => {
    const out = mkdtempSync(join(tmpdir(), 'ff-bundle-'))
    dirs.push(out)
    mkdirSync(join(out, 'main', 'chunks'), { recursive: true })
    writeFileSync(join(out, 'main', 'engine.js'), '')
    const fromChunk = childScript(
      pathToFileURL(join(out, 'main', 'chunks', 'pool-x1y2.js')).href,
      './worker.ts',
      'worker'
    )
    expect(fromChunk).toEqual({ file: join(out, 'main', 'worker.js'), execArgv: [] })
    const fromRoot = childScript(
      pathToFileURL(join(out, 'main', 'engine.js')).href,
      '../fission/footprint-probe.ts',
      'footprint-probe'
    )
    expect(fromRoot).toEqual({ file: join(out, 'main', 'footprint-probe.js'), execArgv: [] })
  })
})
