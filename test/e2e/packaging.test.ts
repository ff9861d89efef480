/**
 * The desktop installers (electron-builder.json): what goes in, what stays out, and where each
 * runtime finds the native binaries built for it. No Electron binary can be downloaded on the
 * build machines, so the packaging step runs against a stand-in Electron folder
 * (`electronDist`): the app's files, asar and resources are laid out exactly as in a real
 * package, only the Electron executable is a placeholder.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  copyFileSync
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { nativeAddonFile } from '../../src/main/engine/compute/native'
import { electronBinary, resourcesDir } from '../../src/main/platform/binaries'
import { sqliteOptions } from '../../src/main/store/db'
import { ROOT } from '../fixtures/process'

interface BuilderConfig {
  files: string[]
  asarUnpack: string[]
  extraResources: Array<{ from: string; to: string }>
  deb: { depends: string[] }
  linux: { target: string[] }
  win: { target: Array<{ target: string }> }
  nsis: { perMachine: boolean }
  mac: { target: string[] }
  npmRebuild: boolean
}

const config = JSON.parse(readFileSync(join(ROOT, 'electron-builder.json'), 'utf8')) as BuilderConfig
const dirs: string[] = []
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ff-pack-'))
  dirs.push(d)
  return d
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('electron-builder configuration', () => {
  it('unpacks native binaries and wasm from the asar, ships the kernels and the Electron build of SQLite as resources', () => {
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['**/*.node', '**/*.wasm']))
    expect(config.extraResources).toEqual(
      expect.arrayContaining([
        { from: 'native/build/Release/ff_native.node', to: 'native/ff_native.node' },
        { from: 'native/electron/better_sqlite3.node', to: 'native/better_sqlite3.node' }
      ])
    )
    // better-sqlite3 is built for Electron by scripts/build-electron-natives.mjs, not rebuilt in node_modules (the CLI keeps its Node build)
    expect(config.npmRebuild).toBe(false)
  })

  it('packs the built app only: no tests, fixtures, sources or the repository native/ folder', () => {
    expect(config.files).toContain('out/**/*')
    expect(config.files).toEqual(
      expect.arrayContaining(['!**/{test,tests,__tests__,fixtures,example,examples}/**', '!src/**', '!native/**'])
    )
  })

  it('builds AppImage and .deb (needing OpenBLAS and libgomp), per-machine NSIS and dmg', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb'])
    expect(config.deb.depends).toEqual(expect.arrayContaining(['libopenblas0', 'libgomp1']))
    expect(config.win.target.map((t) => t.target)).toEqual(['nsis'])
    expect(config.nsis.perMachine).toBe(true)
    expect(config.mac.target).toEqual(['dmg'])
    for (const icon of ['icon.png', 'icon.ico', 'icon.icns'])
      expect(existsSync(join(ROOT, 'resources', 'icons', icon)), icon).toBe(true)
  })
})

describe('native binaries of each runtime', () => {
  it('finds the packaged kernels and SQLite binary in a resources folder, and the Node builds without one', () => {
    const resources = tmp()
    mkdirSync(join(resources, 'native'))
    writeFileSync(join(resources, 'native', 'ff_native.node'), '')
    writeFileSync(join(resources, 'native', 'better_sqlite3.node'), '')
    expect(nativeAddonFile(join(ROOT, 'native'), resources)).toBe(join(resources, 'native', 'ff_native.node'))
    expect(sqliteOptions(resources)).toEqual({ nativeBinding: join(resources, 'native', 'better_sqlite3.node') })
    expect(resourcesDir({ FF_RESOURCES_DIR: resources }, { versions: process.versions })).toBe(resources)
    // Node (the CLI): no resources folder, the repository's builds
    expect(resourcesDir({}, { versions: process.versions })).toBeUndefined()
    expect(nativeAddonFile(join(ROOT, 'native'))).toBe(join(ROOT, 'native', 'build', 'Release', 'ff_native.node'))
    expect(sqliteOptions()).toEqual({})
    // Electron from the repository (npm run dev): native/electron/ when built, else nothing to substitute
    const repoNative = tmp()
    expect(electronBinary('better_sqlite3.node', { repoNative, electron: true })).toBeUndefined()
    mkdirSync(join(repoNative, 'electron'))
    writeFileSync(join(repoNative, 'electron', 'better_sqlite3.node'), '')
    expect(electronBinary('better_sqlite3.node', { repoNative, electron: true })).toBe(
      join(repoNative, 'electron', 'better_sqlite3.node')
    )
    expect(electronBinary('better_sqlite3.node', { repoNative, electron: false })).toBeUndefined()
  })

  it('packages with electron-builder (stand-in Electron): the asar holds out/ and no tests, binaries are unpacked, resources/native is found', async () => {
    if (!existsSync(join(ROOT, 'out', 'main', 'index.js')) && process.env.CI !== 'true') return
    const kernels = join(ROOT, 'native', 'build', 'Release', 'ff_native.node')
    if (!existsSync(kernels) && process.env.CI !== 'true') return
    const work = tmp()
    const electron = join(work, 'electron-dist')
    mkdirSync(join(electron, 'resources'), { recursive: true })
    writeFileSync(join(electron, 'electron'), '#!/bin/sh\necho stand-in\n')
    chmodSync(join(electron, 'electron'), 0o755)
    writeFileSync(join(electron, 'version'), '45.5.0')
    // The Electron build of better-sqlite3 needs Electron's headers (not here): its Node build stands in for the file.
    const sqlite = join(work, 'better_sqlite3.node')
    copyFileSync(createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node'), sqlite)
    const builder = (await import('electron-builder')) as typeof import('electron-builder')
    const out = join(work, 'dist')
    // A config file (an object would be merged into electron-builder.json, doubling its lists).
    const { $schema: _schema, ...base } = config as BuilderConfig & { $schema?: string }
    const file = join(work, 'electron-builder.json')
    writeFileSync(
      file,
      JSON.stringify({
        ...base,
        electronDist: electron,
        electronVersion: '45.5.0',
        directories: { output: out, buildResources: 'resources' },
        extraResources: config.extraResources.map((r) =>
          r.to === 'native/better_sqlite3.node' ? { from: sqlite, to: r.to } : r
        )
      })
    )
    await builder.build({
      projectDir: ROOT,
      targets: builder.Platform.LINUX.createTarget('dir', builder.Arch.x64),
      publish: 'never',
      config: file
    })
    const resources = join(out, 'linux-unpacked', 'resources')
    const asar = (await import('@electron/asar')) as unknown as { listPackage(p: string): string[] }
    const files = asar.listPackage(join(resources, 'app.asar'))
    expect(files).toContain('/out/main/index.js')
    expect(files).toContain('/out/main/engine.js')
    expect(
      files.filter(
        (f) => /\/(test|tests|__tests__|fixtures)\//.test(f) || f.startsWith('/src/') || f.startsWith('/native/')
      )
    ).toEqual([])
    expect(
      existsSync(
        join(
          resources,
          'app.asar.unpacked',
          'node_modules',
          'better-sqlite3',
          'build',
          'Release',
          'better_sqlite3.node'
        )
      )
    ).toBe(true)
    expect(
      existsSync(
        join(
          resources,
          'app.asar.unpacked',
          'node_modules',
          '@tensorflow',
          'tfjs-backend-wasm',
          'dist',
          'tfjs-backend-wasm-simd.wasm'
        )
      )
    ).toBe(true)
    expect(nativeAddonFile(join(ROOT, 'native'), resources)).toBe(join(resources, 'native', 'ff_native.node'))
    expect(sqliteOptions(resources)).toEqual({ nativeBinding: join(resources, 'native', 'better_sqlite3.node') })
  })
})
