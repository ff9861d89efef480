/**
 * `bench data`: builds a 20,000-image 224 × 224 RGB dataset cache (≈ 3 GB) in a temporary
 * folder and reads one epoch of shuffled training batches from it, reporting throughput and
 * the process's peak resident memory (engine/data/bench.ts says exactly what is measured).
 */
import { intOption, type CliCommand } from './types'

export const benchDataCommand: CliCommand = {
  command: 'bench data',
  description: 'Build a 20,000-image 224 px dataset cache and read one shuffled epoch; report speed and peak memory.',
  options: [
    { flags: '--images <n>', description: 'images to generate (default 20000)', parse: intOption('--images', 1) },
    { flags: '--size <px>', description: 'cache side in pixels (default 224)', parse: intOption('--size', 8) },
    { flags: '--batch <n>', description: 'training batch size (default 128)', parse: intOption('--batch', 1) },
    {
      flags: '--source <s>', description: 'files (default: generate PNGs and import them) or synthetic (write the cache directly)',
      parse: (v) => {
        if (v !== 'files' && v !== 'synthetic') throw new Error(`--source must be files or synthetic, got '${v}'`)
        return v
      }
    }
  ],
  async run(ctx, _args, o) {
    const { initBackend } = await import('../engine/compute')
    const { benchData } = await import('../engine/data/bench')
    const info = await initBackend({ backend: (ctx.globals.backend ?? 'auto') as 'auto' })
    if (info.warning) ctx.log(`warning: ${info.warning}`)
    return benchData({
      images: o.images as number | undefined, size: o.size as number | undefined, batchSize: o.batch as number | undefined,
      source: o.source as 'files' | 'synthetic' | undefined, onProgress: (m) => ctx.log(m)
    })
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/data/bench').benchData>>
    out(`${r.images} images ${r.size}×${r.size} RGB, cache ${(r.cacheBytes / 1e9).toFixed(2)} GB (${r.source})`)
    out(`build: ${r.buildSeconds.toFixed(1)} s (${r.buildImagesPerSecond.toFixed(0)} images/s)`)
    out(`one shuffled epoch: ${r.epochSeconds.toFixed(1)} s (${r.epochImagesPerSecond.toFixed(0)} images/s, ${r.batches} batches, tensors on ${r.backend})`)
    out(`peak RSS: ${r.peakRssMiB.toFixed(0)} MiB (limit 1,536 MiB)`)
  }
}
