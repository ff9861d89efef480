/** `bench train`: training/inference speed of the active backend (optionally beside PyTorch). */
import type { BenchArchResult, KernelTime } from '../engine/compute/bench_arch'
import type { BenchTrainResult } from '../engine/compute/bench'
import { ARCHITECTURE_IDS } from '../../shared/vocabulary'
import { intFlag, oneOf, startBackend, type CliCommand } from './types'

export const benchTrainCommand: CliCommand = {
  command: 'bench train',
  description:
    'Time training and inference on the active backend: a small CNN per 1,024 images, or with --arch any registered architecture per image.',
  options: [
    intFlag('--epochs <n>', 'timed epochs (median taken; small CNN only)', 1),
    intFlag('--warmup <n>', 'untimed warm-up epochs (with --arch: warm-up steps, default 2)'),
    intFlag('--images <n>', 'random images per epoch (small CNN only)', 1),
    intFlag('--batch <n>', 'mini-batch size (default 64)', 1),
    { flags: '--arch <name>', description: `a registered architecture (${ARCHITECTURE_IDS.join(', ')})` },
    intFlag('--size <px>', 'with --arch: input side in pixels (default 64)', 1),
    {
      flags: '--channels <n>',
      description: 'with --arch: input channels, 1 or 3 (default 3)',
      parse: oneOf('--channels', ['1', '3'])
    },
    intFlag('--steps <n>', 'with --arch: timed steps (median taken; default 5)', 1),
    {
      flags: '--profile',
      description: 'with --arch: time every tfjs kernel (wall and CPU) of the timed training steps and inference passes'
    },
    intFlag(
      '--micro-batch <n>',
      "with --arch: images per forward/backward pass (default: the trainer's plan from the measured footprint)",
      1
    ),
    { flags: '--torch', description: 'also run PyTorch (/usr/bin/python3) on the same network and report ratios' }
  ],
  async run(ctx, _args, o) {
    const info = await startBackend(ctx)
    ctx.log(`benchmarking on ${info.backend}...`)
    if (o.arch !== undefined) {
      const { benchArch } = await import('../engine/compute/bench_arch')
      return benchArch({
        arch: String(o.arch),
        size: (o.size as number | undefined) ?? 64,
        channels: Number(o.channels ?? 3),
        batch: (o.batch as number | undefined) ?? 64,
        steps: o.steps as number | undefined,
        warmup: o.warmup as number | undefined,
        compareTorch: o.torch === true,
        profile: o.profile === true,
        microBatch: o.microBatch as number | undefined
      })
    }
    const { benchTrain } = await import('../engine/compute/bench')
    const result = await benchTrain({
      epochs: o.epochs as number | undefined,
      warmup: o.warmup as number | undefined,
      images: o.images as number | undefined,
      batch: o.batch as number | undefined,
      compareTorch: o.torch === true
    })
    return result
  },
  print(result, out) {
    if ('arch' in (result as object)) return printArch(result as BenchArchResult, out)
    const r = result as BenchTrainResult
    out(
      `backend ${r.compute ?? r.backend}, batch ${r.batch}, ${r.images} images, ${r.epochs_timed} timed epoch(s), ${r.params} params`
    )
    out(
      `train: ${r.train_ms_per_1024.toFixed(0)} ms / 1,024 images   inference: ${r.infer_ms_per_1024.toFixed(0)} ms / 1,024 images`
    )
    if (r.torch && r.ratio)
      out(
        `PyTorch ${r.torch.version} (${r.torch.threads} threads): train ${r.torch.train_ms_per_1024.toFixed(0)} ms, inference ${r.torch.infer_ms_per_1024.toFixed(0)} ms → ${r.ratio.train.toFixed(1)}× / ${r.ratio.infer.toFixed(1)}× slower`
      )
    if (r.torch_error) out(`PyTorch not measured: ${r.torch_error}`)
  }
}

function printArch(r: BenchArchResult, out: (line: string) => void): void {
  const f = (n: number): string => n.toFixed(n < 10 ? 2 : 1)
  out(
    `${r.arch} (${r.params.toLocaleString('en')} params, ${r.stem} stem) at ${r.size}×${r.size}×${r.channels}, batch ${r.batch}, median of ${r.steps} steps after ${r.warmup} warm-up; load ${r.load.map((l) => l.toFixed(1)).join(' → ')}`
  )
  if (r.microBatches > 1)
    out(
      `our step: the batch of ${r.batch} as ${r.microBatches} micro-batches of ≤ ${r.microBatch} with accumulated gradients, as the trainer runs a batch that does not fit the memory limit; PyTorch takes the whole batch`
    )
  out(
    `this engine, ${r.compute}, ${r.ours.threads} thread(s): train ${f(r.ours.train_img_per_s)} img/s (${f(r.ours.train_ms_per_image)} ms/img), inference ${f(r.ours.infer_img_per_s)} img/s (${f(r.ours.infer_ms_per_image)} ms/img)`
  )
  if (r.torch) {
    out(
      `PyTorch ${r.torch.version}, ${r.torch.threads} thread(s): train ${f(r.torch.train_img_per_s)} img/s (${f(r.torch.train_ms_per_image)} ms/img), inference ${f(r.torch.infer_img_per_s)} img/s (${f(r.torch.infer_ms_per_image)} ms/img)`
    )
  }
  if (r.ratio) {
    out(
      `ratio (our time per image / PyTorch's, same run, per thread): train ${r.ratio.train.toFixed(2)}×, inference ${r.ratio.infer.toFixed(2)}×`
    )
    out(
      `  in CPU time (less sensitive to load): train ${r.ratio.train_cpu.toFixed(2)}×, inference ${r.ratio.infer_cpu.toFixed(2)}×`
    )
  }
  if (r.torch_error) out(`PyTorch not measured: ${r.torch_error}`)
  const table = (title: string, rows: KernelTime[]): void => {
    out(`${title} (exclusive ms, summed; wall and CPU):`)
    for (const k of rows.slice(0, 25))
      out(
        `  ${k.kernel.padEnd(28)} ${k.ms.toFixed(0).padStart(8)} ms ${k.cpu_ms.toFixed(0).padStart(8)} ms CPU ${String(k.calls).padStart(6)} calls ${(100 * k.share).toFixed(1).padStart(5)}%`
      )
  }
  if (r.profile) table('kernels of the timed training steps', r.profile)
  if (r.profile_infer) table('kernels of the timed inference passes', r.profile_infer)
}
