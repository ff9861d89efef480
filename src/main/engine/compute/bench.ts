// The training benchmark of issue #2: a fixed 3-conv CNN on random 28×28×1
// images, timed per 1,024 images on the active backend (optionally beside
// PyTorch, through resources/bench/torch_bench.py).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as tf from '@tensorflow/tfjs'
import { backendInfo, initBackend, type BackendName } from './index'
import { errorText } from '../../../shared/errors'

/** Options of {@link benchTrain}. */
export interface BenchTrainOptions {
  /** Timed epochs (median taken); default 4, 1 on the cpu backend. */
  epochs?: number
  /** Untimed warm-up epochs before; default 1, 0 on the cpu backend. */
  warmup?: number
  /** Random images per epoch; default 1,024. */
  images?: number
  /** Mini-batch size for training and inference; default 64. */
  batch?: number
  /** Also run resources/bench/torch_bench.py with /usr/bin/python3 (same network and protocol) and report ratios. */
  compareTorch?: boolean
}

/** PyTorch's figures for the same network, measured in the same run. */
export interface TorchFigures {
  /** Median training time per 1,024 images (ms). */
  train_ms_per_1024: number
  /** Median inference time per 1,024 images (ms). */
  infer_ms_per_1024: number
  /** Median CPU time (all threads) per timed epoch, per 1,024 images (ms). */
  train_cpu_ms_per_1024: number
  /** Median CPU time (all threads) per inference pass, per 1,024 images (ms). */
  infer_cpu_ms_per_1024: number
  /** Threads PyTorch used. */
  threads: number
  /** torch.__version__. */
  version: string
}

/** Result of {@link benchTrain}; times are wall-clock milliseconds. */
export interface BenchTrainResult {
  /** Backend that ran. */
  backend: BackendName
  /** What computed, in words (BackendInfo.compute), e.g. 'wasm + native kernels (AVX-512, OpenBLAS 0.3.21, 1 thread)'. */
  compute: string
  /** Median epoch time scaled to 1,024 images (ms). */
  train_ms_per_1024: number
  /** Median time to predict all images in batches, scaled to 1,024 images (ms). */
  infer_ms_per_1024: number
  /** Number of timed epochs. */
  epochs_timed: number
  /** Untimed warm-up epochs. */
  warmup: number
  /** Mini-batch size. */
  batch: number
  /** Images per epoch. */
  images: number
  /** Threads the backend computes with. */
  threads: number
  /** Every timed epoch (ms, for `images` images). */
  per_epoch_ms: number[]
  /** Every timed inference pass (ms, for `images` images). */
  per_infer_ms: number[]
  /**
   * Median CPU time of this process per timed epoch, scaled to 1,024 images (ms).
   * With one thread on a shared machine it is close to the wall time the
   * epoch would take on an idle core.
   */
  train_cpu_ms_per_1024: number
  /** Median CPU time per inference pass, scaled to 1,024 images (ms). */
  infer_cpu_ms_per_1024: number
  /** Trainable parameters of the network. */
  params: number
  /** PyTorch's figures, when compareTorch was asked and torch ran. */
  torch?: TorchFigures
  /** Our time / PyTorch's time (training, inference), when torch ran. */
  ratio?: { train: number; infer: number }
  /** Why PyTorch figures are missing, when compareTorch was asked and torch could not run. */
  torch_error?: string
}

/** The benchmark network: conv 3×3 16/32/64 ReLU 'same', max-pool 2 after the first two, global average pool, dense 2. */
export function benchModel(): tf.Sequential {
  const model = tf.sequential()
  model.add(
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' })
  )
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }))
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }))
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }))
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }))
  model.add(tf.layers.globalAveragePooling2d({}))
  model.add(tf.layers.dense({ units: 2 }))
  return model
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** resources/bench/torch_bench.py, found from this file (src/main/engine/compute). */
export function torchScriptPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../resources/bench/torch_bench.py')
}

/** Runs the PyTorch twin of the benchmark with Debian's /usr/bin/python3; throws with the reason when it cannot. */
export function runTorchBench(opts: { epochs: number; warmup: number; images: number; batch: number }): TorchFigures {
  const python = '/usr/bin/python3'
  if (!existsSync(python)) throw new Error(`${python} not found (PyTorch comparison needs Debian's python3-torch)`)
  const args = [torchScriptPath(), '--epochs', String(opts.epochs), '--warmup', String(opts.warmup)]
  args.push('--images', String(opts.images), '--batch', String(opts.batch))
  const run = spawnSync(python, args, { encoding: 'utf8', timeout: 600_000 })
  if (run.status !== 0) {
    const why = (run.stderr || run.error?.message || '').trim().split('\n').pop()
    throw new Error(`torch_bench.py failed: ${why}`)
  }
  return JSON.parse(run.stdout) as TorchFigures
}

/**
 * Times training (Adam 1e-3, softmax cross-entropy) and inference of
 * {@link benchModel} on random images on the active backend (initialising
 * it if needed). Leaves no tensors behind.
 */
export async function benchTrain(opts: BenchTrainOptions = {}): Promise<BenchTrainResult> {
  const info = backendInfo() ?? (await initBackend())
  const onCpu = info.backend === 'cpu'
  const epochs = opts.epochs ?? (onCpu ? 1 : 4)
  const warmup = opts.warmup ?? (onCpu ? 0 : 1)
  const images = opts.images ?? 1024
  const batch = opts.batch ?? 64
  if (epochs < 1 || warmup < 0 || images < 1 || batch < 1)
    throw new Error('bench: epochs ≥ 1, warmup ≥ 0, images ≥ 1, batch ≥ 1')

  const model = benchModel()
  const optimizer = tf.train.adam(1e-3)
  const batches = tf.tidy(() => {
    const out: { x: tf.Tensor4D; y: tf.Tensor2D }[] = []
    for (let i = 0; i < images; i += batch) {
      const n = Math.min(batch, images - i)
      const labels = tf.randomUniform([n], 0, 2, 'int32')
      out.push({ x: tf.randomUniform([n, 28, 28, 1]), y: tf.oneHot(labels, 2).toFloat() as tf.Tensor2D })
    }
    return out
  })
  const scale = 1024 / images
  try {
    const cpuMs = (since: NodeJS.CpuUsage): number => {
      const d = process.cpuUsage(since)
      return (d.user + d.system) / 1000
    }
    const trainCpu: number[] = []
    const inferCpu: number[] = []
    const trainEpoch = async (cpu?: number[]): Promise<number> => {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (const { x, y } of batches) {
        const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor2D), true)
        await loss?.data()
        loss?.dispose()
      }
      cpu?.push(cpuMs(c0))
      return performance.now() - t0
    }
    const inferPass = async (cpu?: number[]): Promise<number> => {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (const { x } of batches) {
        const p = model.predict(x, { batchSize: batch }) as tf.Tensor
        await p.data()
        p.dispose()
      }
      cpu?.push(cpuMs(c0))
      return performance.now() - t0
    }
    for (let i = 0; i < warmup; i++) await trainEpoch()
    const perEpoch: number[] = []
    for (let i = 0; i < epochs; i++) perEpoch.push(await trainEpoch(trainCpu))
    for (let i = 0; i < warmup; i++) await inferPass()
    const perInfer: number[] = []
    for (let i = 0; i < epochs; i++) perInfer.push(await inferPass(inferCpu))

    const result: BenchTrainResult = {
      backend: info.backend,
      compute: info.compute,
      train_ms_per_1024: median(perEpoch) * scale,
      infer_ms_per_1024: median(perInfer) * scale,
      epochs_timed: epochs,
      warmup,
      batch,
      images,
      threads: info.threads,
      per_epoch_ms: perEpoch,
      per_infer_ms: perInfer,
      train_cpu_ms_per_1024: median(trainCpu) * scale,
      infer_cpu_ms_per_1024: median(inferCpu) * scale,
      params: model.countParams()
    }
    if (opts.compareTorch) {
      try {
        const torch = runTorchBench({ epochs, warmup, images, batch })
        result.torch = torch
        result.ratio = {
          train: result.train_ms_per_1024 / torch.train_ms_per_1024,
          infer: result.infer_ms_per_1024 / torch.infer_ms_per_1024
        }
      } catch (e) {
        result.torch_error = errorText(e)
      }
    }
    return result
  } finally {
    for (const { x, y } of batches) tf.dispose([x, y])
    optimizer.dispose()
    model.dispose()
  }
}
