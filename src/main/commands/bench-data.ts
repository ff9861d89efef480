/**
 * `bench data`: builds a 20,000-image 224 × 224 RGB dataset cache (≈ 3 GB) in a temporary
 * folder and reads one epoch of shuffled training batches from it, reporting throughput and
 * the process's peak resident memory (engine/data/bench.ts says exactly what is measured).
 */
import { intFlag, oneOf, startBackend, type CliCommand } from './types'

export const benchDataCommand: CliCommand = {
  command: 'bench data',
  description: 'Build a 20,000-image 224 px dataset cache and read one shuffled epoch; report speed and peak memory.',
  options: [
    intFlag('--images <n>', 'images to generate (default 20000)', 1),
    intFlag('--size <px>', 'cache side in pixels (default 224)', 8),
    intFlag('--batch <n>', 'training batch size (default 128)', 1),
    {
      flags: '--source <s>',
      description: 'files (default: generate PNGs and import them) or synthetic (write the cache directly)',
      parse: oneOf('--source', ['files', 'synthetic'])
    }
  ],
  async run(ctx, _args, o) {
    const { benchData } = await import('../engine/data/bench')
    await startBackend(ctx)
    return benchData({
      images: o.images as number | undefined,
      size: o.size as number | undefined,
      batchSize: o.batch as number | undefined,
      source: o.source as 'files' | 'synthetic' | undefined,
      onProgress: (m) => ctx.log(m)
    })
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/data/bench').benchData>>
    out(`${r.images} images ${r.size}×${r.size} RGB, cache ${(r.cacheBytes / 1e9).toFixed(2)} GB (${r.source})`)
    out(`build: ${r.buildSeconds.toFixed(1)} s (${r.buildImagesPerSecond.toFixed(0)} images/s)`)
    out(
      `one shuffled epoch: ${r.epochSeconds.toFixed(1)} s (${r.epochImagesPerSecond.toFixed(0)} images/s, ${r.batches} batches, tensors on ${r.backend})`
    )
    out(`peak RSS: ${r.peakRssMiB.toFixed(0)} MiB (limit 1,536 MiB)`)
  }
}
