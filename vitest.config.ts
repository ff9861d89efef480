import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// vitest 5 prints failed tests with Map.groupBy (Node >= 21); the build machines run
// Node 20.20, where the reporter would crash and hide the failure. Polyfill it here,
// in the main vitest process that loads this file.
const mapWithGroupBy = Map as unknown as { groupBy?: unknown }
if (typeof mapWithGroupBy.groupBy !== 'function') {
  mapWithGroupBy.groupBy = <K, V>(items: Iterable<V>, key: (item: V, index: number) => K): Map<K, V[]> => {
    const groups = new Map<K, V[]>()
    let i = 0
    for (const item of items) {
      const k = key(item, i++)
      const group = groups.get(k)
      if (group) group.push(item)
      else groups.set(k, [item])
    }
    return groups
  }
}

export default defineConfig({
  plugins: [vue()],
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default']
  }
})
