/**
 * Entry of the short-lived engine process that measures a footprint (models/memory.ts,
 * footprintFor): receives one options message, starts the requested backend, measures
 * (footprint.ts), replies `{ ok, footprint }` or `{ ok: false, message }` and exits, so the heap
 * it grew is given back.
 */
import { initBackend, type BackendName } from '../compute/index'
import type { FootprintOptions } from '../models/memory'
import { measureFootprint } from './footprint'

process.once('message', (m: Omit<FootprintOptions, 'cacheDir'>) => {
  void (async () => {
    try {
      await initBackend({ backend: m.backend as BackendName, threads: 1 })
      const footprint = await measureFootprint(m)
      return { ok: true, footprint }
    } catch (e) {
      return { ok: false, message: e instanceof Error ? e.message : String(e) }
    }
  })().then((reply) => (process.send ? process.send(reply, () => process.exit(0)) : process.exit(0)))
})
