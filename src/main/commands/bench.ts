/** `bench train`: training/inference speed of the active backend (optionally beside PyTorch). */
import { intOption, type CliCommand } from './types'

export const benchTrainCommand: CliCommand = {
  command: 'bench train',
  description: 'Time training and inference of a small CNN per 1,024 images on the active backend.',
  options: [
    { flags: '--epochs <n>', description: 'timed epochs (median taken)', parse: intOption('--epochs', 1) },
    { flags: '--warmup <n>', description: 'untimed warm-up epochs', parse: intOption('--warmup') },
    { flags: '--images <n>', description: 'random images per epoch', parse: intOption('--images', 1) },
    { flags: '--batch <n>', description: 'mini-batch size', parse: intOption('--batch', 1) },
    { flags: '--torch', description: 'also run PyTorch (/usr/bin/python3) on the same network and report ratios' }
  ],
  async run(ctx, _args, o) {
    const { initBackend } = await import('../engine/compute')
    const { benchTrain } = await import('../engine/compute/bench')
    const info = await initBackend({ backend: (ctx.globals.backend ?? 'auto') as 'auto' })
    if (info.warning) ctx.log(`warning: ${info.warning}`)
    ctx.log(`benchmarking on ${info.backend}...`)
    const result = await benchTrain({
      epochs: o.epochs as number | undefined, warmup: o.warmup as number | undefined, images: o.images as number | undefined,
      batch: o.batch as number | undefined, compareTorch: o.torch === true
    })
    return result
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/compute/bench').benchTrain>>
    out(`backend ${r.compute ?? r.backend}, batch ${r.batch}, ${r.images} images, ${r.epochs_timed} timed epoch(s), ${r.params} params`)
    out(`train: ${r.train_ms_per_1024.toFixed(0)} ms / 1,024 images   inference: ${r.infer_ms_per_1024.toFixed(0)} ms / 1,024 images`)
    if (r.torch && r.ratio) out(`PyTorch ${r.torch.version} (${r.torch.threads} threads): train ${r.torch.train_ms_per_1024.toFixed(0)} ms, inference ${r.torch.infer_ms_per_1024.toFixed(0)} ms → ${r.ratio.train.toFixed(1)}× / ${r.ratio.infer.toFixed(1)}× slower`)
    if (r.torch_error) out(`PyTorch not measured: ${r.torch_error}`)
  }
}
