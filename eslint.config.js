// Lint: TypeScript + Vue, and the import walls of the architecture
// (../shared/design/STYLE.md): a folder says where its code may run (allow-lists: eslint/import-walls.js).
import tseslint from 'typescript-eslint'
import pluginVue from 'eslint-plugin-vue'
import importX from 'eslint-plugin-import-x'
import { wallsPlugin } from './eslint/import-walls.js'
import prettierOff from 'eslint-config-prettier'

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test-artifacts/**',
      'coverage/**',
      'scratch/**',
      '.bench-*/**',
      'native/build/**'
    ]
  },
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
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off'
    }
  },
  {
    // The walls: each layer under src/ imports only what its row of eslint/import-walls.js allows
    // (project layers, packages, Node built-ins); docs/ARCHITECTURE.md shows the same table.
    files: ['src/**/*.{ts,vue,js,mjs,cjs}'],
    plugins: { walls: wallsPlugin },
    rules: { 'walls/allow-list': 'error' }
  },
  // Layout is Prettier's (npm run format): the style rules that would fight it are off.
  prettierOff
)
