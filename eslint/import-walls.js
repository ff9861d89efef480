// The import walls of the architecture as allow-lists (docs/ARCHITECTURE.md, "What each layer may
// import"): every file under src/ belongs to exactly one layer, and a layer imports only the project
// layers, packages and Node built-ins its row names. A folder says where its code may run.
import { builtinModules } from 'node:module'
import { dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (this file sits in `<root>/eslint/`). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * @typedef {object} Layer
 * @property {string} id short name used in messages, in `may` and in docs/ARCHITECTURE.md
 * @property {string[]} paths folders or single files (repository-relative) that make up the layer
 * @property {string} runs where the layer's code runs, in a few words
 * @property {string[]} may project layers it may import (its own included when it may)
 * @property {string[]} packages npm packages it may import by name (`scope/*` allows a whole scope)
 * @property {boolean} node whether it may import Node built-ins (`node:fs`, `fs`, ...)
 */

/**
 * THE table of walls: one row per layer. docs/ARCHITECTURE.md shows the same table
 * (test/shared/import-walls.test.ts fails when they differ).
 * @type {Layer[]}
 */
export const LAYERS = [
  {
    id: 'shared',
    paths: ['src/shared'],
    runs: 'everywhere: the contract, record types, vocabulary, pure arithmetic',
    may: ['shared'],
    packages: ['zod'],
    node: false
  },
  {
    id: 'preload',
    paths: ['src/preload'],
    runs: 'the sandboxed preload: exposes the contract as window.api',
    may: ['preload', 'shared'],
    packages: ['electron'],
    node: false
  },
  {
    id: 'renderer',
    paths: ['src/renderer'],
    runs: 'the browser page: Vue app, talks to main only through the contract',
    may: ['renderer', 'shared'],
    packages: ['vue', 'pinia', 'echarts', 'vue-echarts'],
    node: false
  },
  {
    id: 'engine',
    paths: ['src/main/engine'],
    runs: 'engine processes: plain Node + TensorFlow.js, no Electron, no SQL',
    may: ['engine', 'shared', 'platform'],
    packages: [
      '@tensorflow/*',
      '@cornerstonejs/*',
      'dicom-parser',
      'jpeg-lossless-decoder-js',
      'fflate',
      'protobufjs',
      'sharp',
      'zod'
    ],
    node: true
  },
  {
    id: 'store',
    paths: ['src/main/store'],
    runs: 'SQLite: the only code that writes SQL; metadata only, no tensors',
    may: ['store', 'shared', 'platform'],
    packages: ['better-sqlite3'],
    node: true
  },
  {
    id: 'host',
    paths: ['src/main/host'],
    runs: 'the app core (Electron main, CLI, engine process): handlers, job host, job kinds',
    may: ['host', 'engine', 'store', 'shared', 'platform', 'leaf'],
    packages: ['zod'],
    node: true
  },
  {
    id: 'ipc',
    paths: ['src/main/ipc.ts'],
    runs: 'Electron main: the contract over ipcMain',
    may: ['host', 'shared'],
    packages: ['electron'],
    node: true
  },
  {
    id: 'bridge',
    paths: ['src/main/bridge.ts'],
    runs: 'Electron main or CLI: the contract over a loopback WebSocket',
    may: ['host', 'shared'],
    packages: ['ws'],
    node: true
  },
  {
    id: 'electron-main',
    paths: [
      'src/main/index.ts',
      'src/main/utility-launcher.ts',
      'src/main/window-options.ts',
      'src/main/startup-page.ts'
    ],
    runs: 'Electron main: the composition root (window, session, engine launcher)',
    may: ['electron-main', 'ipc', 'host', 'shared', 'leaf'],
    packages: ['electron'],
    node: true
  },
  {
    id: 'cli',
    paths: ['src/main/cli.ts', 'src/main/commands'],
    runs: 'the command line (plain Node): one file per command; benches run the engine in-process',
    may: ['cli', 'host', 'engine', 'bridge', 'shared', 'leaf'],
    packages: ['commander'],
    node: true
  },
  {
    id: 'platform',
    paths: ['src/main/platform'],
    runs: 'any Node process: where each runtime finds its native binaries',
    may: ['platform'],
    packages: [],
    node: true
  },
  {
    id: 'leaf',
    paths: ['src/main/version.ts', 'src/main/workspace.ts'],
    runs: 'any main-side Node process: the app version, the workspace folder layout',
    may: ['leaf'],
    packages: [],
    node: true
  }
]

/**
 * @typedef {object} WallException
 * @property {string} file the one file allowed through (repository-relative)
 * @property {string} imports the layer or package it may import beyond its row
 * @property {string} why why the wall has a door here
 */

/**
 * Every exception to the table, one file each, with its reason.
 * @type {WallException[]}
 */
export const EXCEPTIONS = [
  {
    file: 'src/main/commands/doctor.ts',
    imports: 'store',
    why: '`doctor` opens the workspace database itself to report its schema version, integrity and journal mode'
  }
]

const SOURCE_EXT = /\.(d\.ts|ts|tsx|mts|cts|js|mjs|cjs|vue|json)$/

/** Repository-relative path with `/` separators and no source extension. */
function key(path) {
  return path.split(sep).join('/').replace(SOURCE_EXT, '')
}

/**
 * The layer a repository-relative path (file or folder, extension optional) belongs to: the row with
 * the longest matching path, or undefined.
 * @param {string} relPath
 * @returns {Layer | undefined}
 */
export function layerOfPath(relPath) {
  const k = key(relPath)
  let best
  let bestLen = -1
  for (const layer of LAYERS) {
    for (const p of layer.paths) {
      const pk = key(p)
      if ((k === pk || k.startsWith(pk + '/')) && pk.length > bestLen) {
        best = layer
        bestLen = pk.length
      }
    }
  }
  return best
}

const BUILTINS = new Set(builtinModules)

/**
 * What an import specifier written in `fromFile` (absolute) refers to.
 * @param {string} specifier
 * @param {string} fromFile
 * @returns {{ kind: 'node', name: string } | { kind: 'package', name: string } | { kind: 'layer', name: string, path: string } | { kind: 'outside', path: string }}
 */
export function resolveSpecifier(specifier, fromFile) {
  const spec = specifier.replace(/[?#].*$/, '')
  if (spec.startsWith('node:')) return { kind: 'node', name: spec }
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const rel = relative(ROOT, resolve(dirname(fromFile), spec))
      .split(sep)
      .join('/')
    const layer = layerOfPath(rel)
    return layer ? { kind: 'layer', name: layer.id, path: rel } : { kind: 'outside', path: rel }
  }
  const parts = spec.split('/')
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  if (BUILTINS.has(parts[0])) return { kind: 'node', name: 'node:' + parts[0] }
  return { kind: 'package', name }
}

/** Whether `pkg` is on a layer's package list (`@scope/*` matches the whole scope). */
function packageAllowed(layer, pkg) {
  return layer.packages.some((p) => p === pkg || (p.endsWith('/*') && pkg.startsWith(p.slice(0, -1))))
}

/** One sentence: what a layer may import. */
export function describeAllowed(layer) {
  const parts = [`layers ${layer.may.join(', ') || '(none)'}`]
  parts.push(layer.packages.length ? `packages ${layer.packages.join(', ')}` : 'no packages')
  parts.push(layer.node ? 'Node built-ins' : 'no Node built-ins')
  return parts.join('; ')
}

/**
 * Whether a file of `layer` may import `target`; undefined when it may, else the reason.
 * @returns {string | undefined}
 */
export function violation(layer, relFile, target) {
  const exception = (what) => EXCEPTIONS.some((e) => key(e.file) === key(relFile) && e.imports === what)
  switch (target.kind) {
    case 'node':
      return layer.node ? undefined : `the Node built-in ${target.name}`
    case 'package':
      return packageAllowed(layer, target.name) || exception(target.name) ? undefined : `the package ${target.name}`
    case 'layer':
      return layer.may.includes(target.name) || exception(target.name)
        ? undefined
        : `${target.path} (layer ${target.name})`
    case 'outside':
      return `${target.path}, which is in no layer`
  }
}

/** @type {import('eslint').Rule.RuleModule} */
const allowListRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Each folder under src/ imports only what its row of eslint/import-walls.js allows.' },
    schema: []
  },
  create(context) {
    const file = context.filename
    const relFile = relative(ROOT, file).split(sep).join('/')
    if (relFile.startsWith('..') || !relFile.startsWith('src/')) return {}
    const layer = layerOfPath(relFile)
    if (!layer) {
      return {
        Program(node) {
          context.report({
            node,
            message: `${relFile} is in no layer: add its folder to LAYERS in eslint/import-walls.js (and to docs/ARCHITECTURE.md).`
          })
        }
      }
    }
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') {
        if (source && source.type === 'TemplateLiteral' && source.expressions.length === 0) {
          check(node, { value: source.quasis[0].value.cooked })
        }
        return
      }
      const what = violation(layer, relFile, resolveSpecifier(source.value, file))
      if (what) {
        context.report({
          node,
          message: `Layer ${layer.id} (${relFile}) may not import '${source.value}': that is ${what}. ${layer.id} may import ${describeAllowed(layer)} (eslint/import-walls.js, docs/ARCHITECTURE.md).`
        })
      }
    }
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
      TSImportEqualsDeclaration: (node) =>
        node.moduleReference.type === 'TSExternalModuleReference' && check(node, node.moduleReference.expression),
      // typescript-eslint 8 calls the string `source` (older: `argument`, a TSLiteralType).
      TSImportType: (node) => check(node, 'source' in node ? node.source : node.argument?.literal),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments.length === 1)
          check(node, node.arguments[0])
      }
    }
  }
}

/** The local ESLint plugin: `walls/allow-list`. */
export const wallsPlugin = { meta: { name: 'fissionfusion-walls' }, rules: { 'allow-list': allowListRule } }
