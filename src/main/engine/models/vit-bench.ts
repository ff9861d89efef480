/**
 * `fissionfusion bench vit`: training-step and inference time of a ViT (DeiT-S by default) at
 * full size on the active backend, optionally beside PyTorch's torchvision VisionTransformer of
 * the same dimensions (resources/bench/vit_bench.py, same batch, loss, optimizer and protocol).
 */
import * as tf from '@tensorflow/tfjs'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AdamW } from '../fission/adamw'
import { batchLoss, labelTensors } from '../fission/losses'
import { getArch } from './index'
import { VIT_B16, VIT_S16, VIT_TI16, type VitDims } from './vit'

/** Options of {@link benchVit}. */
export interface BenchVitOptions {
  /** `deit_s16` (default), `vit_b16` or `vit` (ViT-Ti/16). */
  arch?: string
  /** Image side, pixels (default 224). */
  size?: number
  /** Images per step (default 8). */
  batch?: number
  /** Timed steps, median taken (default 3). */
  steps?: number
  /** Untimed steps first (default 1). */
  warmup?: number
  /** Also run PyTorch with this many threads (0 = not at all). */
  torchThreads?: number
  onProgress?: (message: string) => void
}

/** Median wall / CPU milliseconds. */
export interface VitTimes {
  train_ms_per_step: number
  train_cpu_ms_per_step: number
  infer_ms_per_batch: number
  infer_cpu_ms_per_batch: number
}

/** What {@link benchVit} measured. */
export interface BenchVitResult extends VitTimes {
  arch: string
  dims: VitDims
  size: number
  batch: number
  steps: number
  warmup: number
  params: number
  torch?: VitTimes & { threads: number; version: string }
  torch_error?: string
  /** Same-run ratios engine / PyTorch (wall). */
  ratio?: { train: number; infer: number }
}

const DIMS: Record<string, VitDims> = { deit_s16: VIT_S16, vit_b16: VIT_B16, vit: VIT_TI16 }

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Runs the benchmark on the active backend; leaves no tensors behind. */
export async function benchVit(o: BenchVitOptions = {}): Promise<BenchVitResult> {
  const arch = o.arch ?? 'deit_s16'
  const dims = DIMS[arch]
  if (!dims) throw new Error(`bench vit: --arch must be one of ${Object.keys(DIMS).join(', ')} (got "${arch}")`)
  const size = o.size ?? 224
  const batch = o.batch ?? 8
  const steps = o.steps ?? 3
  const warmup = o.warmup ?? 1
  const classes = 10
  const log = o.onProgress ?? (() => {})
  const model = getArch(arch).build({ inputShape: [size, size, 3], numClasses: classes, seed: 0 })
  const params = model.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
  const opt = new AdamW({ weightDecay: 1e-4 })
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1)
  const labels = labelTensors(
    'single',
    Int32Array.from({ length: batch }, (_, i) => i % classes),
    batch
  )
  const train: number[] = []
  const trainCpu: number[] = []
  const infer: number[] = []
  const inferCpu: number[] = []
  try {
    for (let i = 0; i < warmup + steps; i++) {
      const t = performance.now()
      const c = cpuMs()
      const { value, grads } = tf.variableGrads(
        () => batchLoss('single', model.apply(x, { training: true }) as tf.Tensor2D, labels),
        params.map((p) => p.variable)
      )
      opt.apply(
        params,
        params.map((p) => grads[p.variable.name]),
        1e-4
      )
      value.dataSync()
      tf.dispose([value, grads])
      if (i >= warmup) {
        train.push(performance.now() - t)
        trainCpu.push(cpuMs() - c)
      }
      log(`train step ${i + 1}/${warmup + steps}: ${(performance.now() - t).toFixed(0)} ms`)
    }
    for (let i = 0; i < warmup + steps; i++) {
      const t = performance.now()
      const c = cpuMs()
      tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).dataSync())
      if (i >= warmup) {
        infer.push(performance.now() - t)
        inferCpu.push(cpuMs() - c)
      }
    }
  } finally {
    x.dispose()
    labels.y.dispose()
    opt.dispose()
    model.dispose()
  }
  const result: BenchVitResult = {
    arch,
    dims,
    size,
    batch,
    steps,
    warmup,
    params: params.reduce((s, p) => s + p.variable.size, 0),
    train_ms_per_step: median(train),
    train_cpu_ms_per_step: median(trainCpu),
    infer_ms_per_batch: median(infer),
    infer_cpu_ms_per_batch: median(inferCpu)
  }
  if (o.torchThreads) {
    try {
      log('running the PyTorch twin...')
      result.torch = runTorchVit({ dims, size, batch, steps, warmup, classes, threads: o.torchThreads })
      result.ratio = {
        train: result.train_ms_per_step / result.torch.train_ms_per_step,
        infer: result.infer_ms_per_batch / result.torch.infer_ms_per_batch
      }
    } catch (e) {
      result.torch_error = (e as Error).message
    }
  }
  return result
}

function runTorchVit(o: {
  dims: VitDims
  size: number
  batch: number
  steps: number
  warmup: number
  classes: number
  threads: number
}): VitTimes & { threads: number; version: string } {
  const python = '/usr/bin/python3'
  if (!existsSync(python)) throw new Error(`${python} not found (PyTorch comparison needs Debian's python3-torch)`)
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../resources/bench/vit_bench.py')
  const d = o.dims
  const args = [
    script,
    '--size',
    o.size,
    '--patch',
    d.patch,
    '--layers',
    d.layers,
    '--heads',
    d.heads,
    '--hidden',
    d.hidden,
    '--mlp',
    d.mlp,
    '--classes',
    o.classes,
    '--batch',
    o.batch,
    '--steps',
    o.steps,
    '--warmup',
    o.warmup,
    '--threads',
    o.threads
  ].map(String)
  const run = spawnSync(python, args, {
    encoding: 'utf8',
    timeout: 1_800_000,
    env: { ...process.env, OMP_WAIT_POLICY: 'passive' }
  })
  if (run.status !== 0)
    throw new Error(`vit_bench.py failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`)
  return JSON.parse(run.stdout) as VitTimes & { threads: number; version: string }
}
