// Lint: TypeScript + Vue, and the import walls of the architecture
// (../shared/design/STYLE.md): a folder says where its code may run.
import tseslint from 'typescript-eslint'
import pluginVue from 'eslint-plugin-vue'
import importX from 'eslint-plugin-import-x'

/** Zones: code under `target` may not import from `from`. */
const walls = [
  // The engine is plain Node + tfjs: no store, no transport, no Electron, no Vue.
  { target: './src/main/engine', from: './src/main/store', message: 'The engine never touches SQLite: return data, let host/ record it.' },
  { target: './src/main/engine', from: './src/main/host', message: 'The engine does not know how it is hosted.' },
  { target: './src/main/engine', from: './src/main/ipc.ts' },
  { target: './src/main/engine', from: './src/main/bridge.ts' },
  { target: './src/main/engine', from: './src/main/cli.ts' },
  { target: './src/main/engine', from: './src/renderer' },
  // The store never imports tfjs or the engine.
  { target: './src/main/store', from: './src/main/engine', message: 'The store holds metadata only; tensors live in files.' },
  { target: './src/main/store', from: './src/renderer' },
  // Shared is types and constants for both sides.
  { target: './src/shared', from: './src/main' },
  { target: './src/shared', from: './src/renderer' },
  { target: './src/shared', from: './src/preload' },
  // The renderer only talks through the contract.
  { target: './src/renderer', from: './src/main', message: 'The renderer talks to main through src/shared/api.ts only.' },
  { target: './src/renderer', from: './src/preload' }
]

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-artifacts/**', 'coverage/**', 'scratch/**', '.bench-*/**', 'native/build/**'] },
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } }
  },
  {
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { node: { extensions: ['.ts', '.js', '.vue', '.json'] } } },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: walls }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off'
    }
  },
  {
    // The engine may not import Electron, SQLite or Vue by package name either.
    files: ['src/main/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['electron', 'better-sqlite3', 'vue', 'pinia', 'ws'] }]
    }
  },
  {
    files: ['src/main/store/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['electron', 'vue'], patterns: ['@tensorflow/*'] }]
    }
  },
  {
    files: ['src/renderer/**/*.{ts,vue}'],
    rules: {
      'no-restricted-imports': ['error', { paths: ['electron', 'better-sqlite3', 'fs', 'node:fs', 'path', 'node:path'], patterns: ['@tensorflow/*'] }]
    }
  }
)
