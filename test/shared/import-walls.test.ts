/**
 * The import walls (eslint/import-walls.js) as the real ESLint config applies them: small in-memory
 * snippets linted with the ESLint Node API under a file name in each layer; one forbidden import per
 * wall is reported (naming the layer, the import and what the layer may import), allowed imports are
 * not. And the table in docs/ARCHITECTURE.md is the same data as LAYERS / EXCEPTIONS.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { beforeAll, describe, expect, it } from 'vitest'
import { EXCEPTIONS, LAYERS, ROOT, layerOfPath } from '../../eslint/import-walls.js'

let eslint: ESLint

beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT })
})

/** The walls rule's messages for `code` linted as the file `file` (repository-relative). */
async function wallMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, file) })
  const fatal = result.messages.filter((m) => m.fatal)
  expect(fatal, `${file} must parse`).toEqual([])
  return result.messages.filter((m) => m.ruleId === 'walls/allow-list').map((m) => m.message)
}

/** [file, import line, layer, the import as the message quotes it] that must be refused. */
const forbidden: [string, string, string, string][] = [
  ['src/shared/x.ts', "import { readFileSync } from 'node:fs'", 'shared', 'node:fs'],
  ['src/shared/x.ts', "import { join } from 'path'", 'shared', 'path'],
  ['src/shared/x.ts', "import { ipcRenderer } from 'electron'", 'shared', 'electron'],
  ['src/shared/x.ts', "import type { App } from '../main/host/app'", 'shared', '../main/host/app'],
  ['src/shared/x.ts', "import { ref } from 'vue'", 'shared', 'vue'],
  ['src/preload/x.ts', "import { initBackend } from '../main/engine/compute'", 'preload', '../main/engine/compute'],
  ['src/preload/x.ts', "import { readFileSync } from 'node:fs'", 'preload', 'node:fs'],
  ['src/preload/x.ts', "import { Store } from '../main/store'", 'preload', '../main/store'],
  ['src/renderer/src/x.ts', "import { ipcRenderer } from 'electron'", 'renderer', 'electron'],
  [
    'src/renderer/src/x.ts',
    "import { IPC_CHANNELS } from '../../preload/channels'",
    'renderer',
    '../../preload/channels'
  ],
  ['src/renderer/src/x.ts', "import * as tf from '@tensorflow/tfjs'", 'renderer', '@tensorflow/tfjs'],
  ['src/renderer/src/x.ts', "import type { Store } from '../../main/store'", 'renderer', '../../main/store'],
  ['src/main/engine/data/x.ts', "import { Store } from '../../store'", 'engine', '../../store'],
  ['src/main/engine/data/x.ts', "import { openApp } from '../../host/app'", 'engine', '../../host/app'],
  ['src/main/engine/data/x.ts', "import { app } from 'electron'", 'engine', 'electron'],
  ['src/main/engine/data/x.ts', "import Database from 'better-sqlite3'", 'engine', 'better-sqlite3'],
  ['src/main/engine/data/x.ts', "import { bindIpc } from '../../ipc'", 'engine', '../../ipc'],
  ['src/main/store/x.ts', "import { openApp } from '../host/app'", 'store', '../host/app'],
  ['src/main/store/repos/x.ts', "import * as tf from '@tensorflow/tfjs'", 'store', '@tensorflow/tfjs'],
  [
    'src/main/store/x.ts',
    "import { trainUnit } from '../engine/fission/trainer'",
    'store',
    '../engine/fission/trainer'
  ],
  ['src/main/host/x.ts', "import { utilityProcess } from 'electron'", 'host', 'electron'],
  ['src/main/host/x.ts', "import { bindIpc } from '../ipc'", 'host', '../ipc'],
  ['src/main/host/jobs/x.ts', "import { cliProgram } from '../../cli'", 'host', '../../cli'],
  ['src/main/commands/x.ts', "import { app } from 'electron'", 'cli', 'electron'],
  ['src/main/commands/x.ts', "import { Store } from '../store'", 'cli', '../store'],
  ['src/main/commands/x.ts', "import { bindIpc } from '../ipc'", 'cli', '../ipc'],
  ['src/main/commands/x.ts', "import * as tf from '@tensorflow/tfjs'", 'cli', '@tensorflow/tfjs'],
  ['src/main/commands/x.ts', "import Database from 'better-sqlite3'", 'cli', 'better-sqlite3'],
  ['src/main/cli.ts', "import { createApp } from 'vue'", 'cli', 'vue'],
  ['src/main/ipc.ts', "import { IPC_CHANNELS } from '../preload/channels'", 'ipc', '../preload/channels'],
  ['src/main/ipc.ts', "import { Store } from './store'", 'ipc', './store'],
  ['src/main/bridge.ts', "import { ipcMain } from 'electron'", 'bridge', 'electron'],
  [
    'src/main/index.ts',
    "import { trainUnit } from './engine/fission/trainer'",
    'electron-main',
    './engine/fission/trainer'
  ],
  ['src/main/index.ts', "import { startBridge } from './bridge'", 'electron-main', './bridge'],
  ['src/main/platform/x.ts', "import { Store } from '../store'", 'platform', '../store'],
  ['src/main/workspace.ts', "import { openApp } from './host/app'", 'leaf', './host/app'],
  ['src/main/version.ts', "import { z } from 'zod'", 'leaf', 'zod']
]

/** [file, code] that the walls allow (each line an import of the file's own row). */
const allowed: [string, string][] = [
  [
    'src/shared/x.ts',
    "import { z } from 'zod'\nimport type { Api } from './api'\nexport { IPC_CHANNELS } from './channels'"
  ],
  [
    'src/preload/x.ts',
    "import { contextBridge } from 'electron'\nimport { createClient } from '../shared/api'\nimport { IPC_CHANNELS } from '../shared/channels'"
  ],
  [
    'src/renderer/src/x.ts',
    "import { ref } from 'vue'\nimport { defineStore } from 'pinia'\nimport { use } from 'echarts/core'\nimport VChart from 'vue-echarts'\nimport type { Api } from '../../shared/api'\nimport { fmt } from './format'"
  ],
  [
    'src/main/engine/data/x.ts',
    "import * as tf from '@tensorflow/tfjs'\nimport '@tensorflow/tfjs-backend-wasm'\nimport { readFileSync } from 'node:fs'\nimport { gunzipSync } from 'zlib'\nimport sharp from 'sharp'\nimport { METRIC_IDS } from '../../../shared/vocabulary'\nimport { electronBinary } from '../../platform/binaries'\nimport { atomicWrite } from '../io/atomic'\nconst c = require('@cornerstonejs/codec-charls/decodewasmjs')"
  ],
  [
    'src/main/store/x.ts',
    "import Database from 'better-sqlite3'\nimport { randomUUID } from 'node:crypto'\nimport type { JobRecord } from '../../shared/records'\nimport { electronBinary } from '../platform/binaries'"
  ],
  [
    'src/main/host/jobs/x.ts',
    "import { z } from 'zod'\nimport { Store } from '../../store'\nimport { trainUnit } from '../../engine/fission/trainer'\nimport { Workspace } from '../../workspace'\nimport { APP_VERSION } from '../../version'"
  ],
  [
    'src/main/commands/x.ts',
    "import { openApp } from '../host/app'\nimport { startBridge } from '../bridge'\nimport { Workspace } from '../workspace'\nexport const f = async () => (await import('../engine/compute')).initBackend"
  ],
  [
    'src/main/commands/doctor.ts',
    "import { Store } from '../store'\nimport { SCHEMA_VERSION } from '../store/migrations'"
  ],
  [
    'src/main/index.ts',
    "import { app } from 'electron'\nimport { bindIpc } from './ipc'\nimport { openApp } from './host/app'\nimport { utilityLauncher } from './utility-launcher'"
  ],
  [
    'src/renderer/src/views/X.vue',
    "<script setup lang=\"ts\">\nimport { ref } from 'vue'\nimport type { Api } from '../../../shared/api'\nconst n = ref<Api | null>(null)\n</script>\n<template><div>{{ n }}</div></template>\n"
  ]
]

describe('import walls (eslint/import-walls.js through eslint.config.js)', () => {
  it.each(forbidden)('%s: %s is refused', async (file, line, layer, spec) => {
    const messages = await wallMessages(file, `${line}\nexport const used = 1\n`)
    expect(messages).toHaveLength(1)
    const row = LAYERS.find((l) => l.id === layer)!
    // The message names the file's layer, the import, and what the layer may import.
    expect(messages[0]).toContain(`Layer ${layer} (${file})`)
    expect(messages[0]).toContain(`may not import '${spec}'`)
    expect(messages[0]).toContain(`layers ${row.may.join(', ')}`)
  })

  it.each(allowed)('%s: allowed imports pass', async (file, code) => {
    expect(await wallMessages(file, code)).toEqual([])
  })

  it('checks every import form: re-exports, import(), require(), import type, typeof import()', async () => {
    const code = [
      "export { readFileSync } from 'node:fs'",
      "export * from '../main/store'",
      "export const a = () => import('electron')",
      "export const b = require('node:path')",
      "import type { App } from '../main/host/app'",
      "export type C = typeof import('../main/engine/compute')",
      'export const d = () => import(`../main/ipc`)',
      "import zx = require('node:os')",
      'export type E = App | typeof zx'
    ].join('\n')
    const messages = await wallMessages('src/shared/forms.ts', code)
    expect(messages.map((m) => m.match(/may not import '([^']+)'/)?.[1])).toEqual([
      'node:fs',
      '../main/store',
      'electron',
      'node:path',
      '../main/host/app',
      '../main/engine/compute',
      '../main/ipc',
      'node:os'
    ])
  })

  it('a .vue component importing electron or the main side is refused', async () => {
    const code =
      "<script setup lang=\"ts\">\nimport { ipcRenderer } from 'electron'\nimport { Store } from '../../../main/store'\nconst x = [ipcRenderer, Store]\n</script>\n<template><div>{{ x }}</div></template>\n"
    const messages = await wallMessages('src/renderer/src/views/Bad.vue', code)
    expect(messages).toHaveLength(2)
    expect(messages[0]).toContain("Layer renderer (src/renderer/src/views/Bad.vue) may not import 'electron'")
    expect(messages[1]).toContain("may not import '../../../main/store': that is src/main/store (layer store)")
  })

  it('a file under src/ in no layer, and an import leaving src/, are errors', async () => {
    const none = await wallMessages('src/main/newroom/x.ts', "import { z } from 'zod'\nexport const y = z\n")
    expect(none).toEqual([expect.stringContaining('src/main/newroom/x.ts is in no layer')])
    const out = await wallMessages(
      'src/main/host/x.ts',
      "import pkg from '../../../package.json'\nexport const v = pkg\n"
    )
    expect(out).toEqual([
      expect.stringContaining("may not import '../../../package.json': that is package.json, which is in no layer")
    ])
  })

  it('the exception is one file wide: doctor.ts may import the store, its neighbours may not', async () => {
    expect(
      await wallMessages('src/main/commands/doctor.ts', "import { Store } from '../store'\nexport const s = Store\n")
    ).toEqual([])
    expect(
      await wallMessages('src/main/commands/doctors.ts', "import { Store } from '../store'\nexport const s = Store\n")
    ).toHaveLength(1)
  })
})

describe('the walls table', () => {
  it('names real layers, and every file under src/ is in exactly the layer of its longest path', () => {
    const ids = LAYERS.map((l) => l.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const l of LAYERS) for (const m of l.may) expect(ids, `${l.id} may import ${m}`).toContain(m)
    for (const e of EXCEPTIONS) {
      expect(statSync(join(ROOT, e.file)).isFile()).toBe(true)
      expect(ids.includes(e.imports) || !e.imports.startsWith('.')).toBe(true)
    }
    const files: string[] = []
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const p = `${dir}/${e.name}`
        if (e.isDirectory()) walk(p)
        else files.push(p)
      }
    }
    walk('src')
    expect(files.filter((f) => !layerOfPath(f))).toEqual([])
    expect(layerOfPath('src/main/ipc.ts')?.id).toBe('ipc')
    expect(layerOfPath('src/main/index.ts')?.id).toBe('electron-main')
    expect(layerOfPath('src/main/engine/fission/trainer.ts')?.id).toBe('engine')
    expect(layerOfPath('src/main/commands')?.id).toBe('cli')
    expect(layerOfPath('src/mainx/y.ts')).toBeUndefined()
  })

  it('docs/ARCHITECTURE.md shows the same rows as LAYERS and EXCEPTIONS', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8')
    const section = doc.slice(doc.indexOf('## What each layer may import'))
    const tables = section
      .slice(0, section.indexOf('\n## '))
      .split(/\n\s*\n/)
      .filter((b) => b.trim().startsWith('|'))
    expect(tables).toHaveLength(2)
    const rows = (table: string): string[][] =>
      table
        .trim()
        .split('\n')
        .slice(2)
        .map((r) =>
          r
            .trim()
            .replace(/^\||\|$/g, '')
            .split('|')
            .map((c) => c.trim())
        )
    const list = (cell: string): string[] =>
      cell === 'none' ? [] : cell.split(',').map((c) => c.trim().replace(/^`|`$/g, ''))
    expect(
      rows(tables[0]).map(([id, paths, runs, may, packages, node]) => ({
        id,
        paths: list(paths),
        runs,
        may: list(may),
        packages: list(packages),
        node: node === 'yes'
      }))
    ).toEqual(LAYERS)
    expect(
      rows(tables[1]).map(([file, imports, why]) => ({ file: list(file)[0], imports: list(imports)[0], why }))
    ).toEqual(EXCEPTIONS)
  })
})
