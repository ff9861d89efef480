/** `bench vit`: a ViT training step and inference at full size on the active backend (optionally beside PyTorch). */
import { VIT_ARCHITECTURE_IDS } from '../../shared/vocabulary'
import { intFlag, oneOf, orList, startBackend, type CliCommand } from './types'

export const benchVitCommand: CliCommand = {
  command: 'bench vit',
  description:
    'Time a training step (AdamW) and inference of DeiT-S (or ViT-B/16, ViT-Ti/16) on random images on the active backend.',
  options: [
    {
      flags: '--arch <name>',
      description: `${orList(VIT_ARCHITECTURE_IDS)} (default deit_s16)`,
      parse: oneOf('--arch', VIT_ARCHITECTURE_IDS)
    },
    intFlag('--size <px>', 'image side (default 224)', 16),
    intFlag('--batch <n>', 'images per step (default 8)', 1),
    intFlag('--steps <n>', 'timed steps, median taken (default 3)', 1),
    intFlag('--warmup <n>', 'untimed steps first (default 1)'),
    {
      flags: '--torch',
      description:
        "also run torchvision's VisionTransformer of the same dimensions (/usr/bin/python3) and report ratios"
    },
    intFlag('--torch-threads <n>', 'PyTorch threads with --torch (default 1, like the engine)', 1)
  ],
  async run(ctx, _args, o) {
    const { benchVit } = await import('../engine/models/vit-bench')
    const info = await startBackend(ctx)
    ctx.log(`benchmarking on ${info.compute ?? info.backend}...`)
    const result = await benchVit({
      arch: o.arch as string | undefined,
      size: o.size as number | undefined,
      batch: o.batch as number | undefined,
      steps: o.steps as number | undefined,
      warmup: o.warmup as number | undefined,
      torchThreads: o.torch === true ? ((o.torchThreads as number | undefined) ?? 1) : 0,
      onProgress: (m) => ctx.log(m)
    })
    return { compute: info.compute ?? info.backend, ...result }
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/models/vit-bench').benchVit>> & { compute: string }
    out(
      `${r.arch} (${r.params.toLocaleString('en-US')} parameters) at ${r.size} px, batch ${r.batch}, median of ${r.steps} step(s); ${r.compute}`
    )
    out(
      `train: ${r.train_ms_per_step.toFixed(0)} ms / step (CPU ${r.train_cpu_ms_per_step.toFixed(0)} ms)   inference: ${r.infer_ms_per_batch.toFixed(0)} ms / batch (CPU ${r.infer_cpu_ms_per_batch.toFixed(0)} ms)`
    )
    if (r.torch && r.ratio) {
      out(
        `PyTorch ${r.torch.version} (${r.torch.threads} thread(s)): train ${r.torch.train_ms_per_step.toFixed(0)} ms (CPU ${r.torch.train_cpu_ms_per_step.toFixed(0)} ms), inference ${r.torch.infer_ms_per_batch.toFixed(0)} ms (CPU ${r.torch.infer_cpu_ms_per_batch.toFixed(0)} ms)`
      )
      out(
        `ratio engine / PyTorch, same run, wall: train ${r.ratio.train.toFixed(2)}×, inference ${r.ratio.infer.toFixed(2)}×`
      )
    }
    if (r.torch_error) out(`PyTorch not measured: ${r.torch_error}`)
  }
}
