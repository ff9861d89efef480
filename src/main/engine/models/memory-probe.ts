/**
 * Entry of the short-lived engine process that measures a footprint (memory.ts, footprintFor):
 * receives one {@link FootprintOptions} message, starts the requested backend, measures, replies
 * `{ ok, footprint }` or `{ ok: false, message }` and exits (so its grown heap is given back).
 */
import { initBackend, type BackendName } from '../compute/index'
import { measureFootprint, type FootprintOptions } from './memory'

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
