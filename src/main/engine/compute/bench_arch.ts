// `bench train --arch NAME`: training and inference speed of any registered
// architecture at a given input size, per image, beside PyTorch's torchvision
// network of the same shape (resources/bench/torch_bench.py --arch). The
// training step is the trainer's: the same model build, AdamW, softmax
// cross-entropy (batchLoss) and tf.variableGrads over every trainable weight.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { AdamW, type NamedVariable } from '../fission/adamw'
import { bareStep, trainStep, type StepContext } from '../fission/trainer'
import { ARCHITECTURES, getArch } from '../models'
import { stemOf } from '../models/resnet'
import { torchScriptPath } from './bench'
import { backendInfo, initBackend, type BackendName } from './index'

/** Options of {@link benchArch}. */
export interface BenchArchOptions {
  /** Registry key (src/main/engine/models/index.ts). */
  arch: string
  /** Input side, pixels (square images). */
  size: number
  /** Input channels, 1 or 3. */
  channels: number
  /** Images per step. */
  batch: number
  /** Timed steps (median taken); default 5. */
  steps?: number
  /** Untimed warm-up steps; default 2. */
  warmup?: number
  /** Classes of the head; default 10. */
  classes?: number
  /** Also run the PyTorch twin (one thread) and report same-run ratios. */
  compareTorch?: boolean
  /** Time every tfjs kernel of the timed training steps (exclusive time, summed over the steps). */
  profile?: boolean
  /**
   * Images per forward/backward pass (gradients accumulated over the batch, as the trainer does).
   * Default: planned from the architecture's measured footprint under the default memory limit of
   * one engine process, the trainer's own plan (a batch that fits runs in one pass).
   */
  microBatch?: number
}

/** One side's figures (ours or PyTorch's). */
export interface ArchFigures {
  /** Median wall time of a training step / batch (ms). */
  train_ms_per_step: number
  /** Median wall time of an inference pass over one batch (ms). */
  infer_ms_per_step: number
  /** Images per second, from the medians. */
  train_img_per_s: number
  infer_img_per_s: number
  /** Median wall time per image (ms). */
  train_ms_per_image: number
  infer_ms_per_image: number
  /** Every timed step (ms). */
  per_train_ms: number[]
  per_infer_ms: number[]
  /** Median CPU time (all threads of the process) of a training step / inference pass (ms): less noisy on a shared machine. */
  train_cpu_ms_per_step: number
  infer_cpu_ms_per_step: number
  /** Threads that computed. */
  threads: number
}

/** A kernel's share of the profiled training steps. */
export interface KernelTime {
  kernel: string
  /** Exclusive wall time, summed over the timed steps (ms). */
  ms: number
  /** Exclusive CPU time of the process (all threads), summed over the timed steps (ms): steadier than wall time on a shared machine. */
  cpu_ms: number
  calls: number
  /** Share of the summed kernel time. */
  share: number
}

/** Result of {@link benchArch}. */
export interface BenchArchResult {
  arch: string
  size: number
  channels: number
  batch: number
  /** Images per forward/backward pass of our step, and passes per batch (1: the whole batch at once). */
  microBatch: number
  microBatches: number
  classes: number
  /** The stem the architecture used at this size ('small' or 'imagenet'; ResNets and MobileNetV2). */
  stem: 'small' | 'imagenet'
  /** Trainable parameters (BatchNorm's moving statistics excluded, as PyTorch counts them). */
  params: number
  backend: BackendName
  compute: string
  steps: number
  warmup: number
  ours: ArchFigures
  torch?: ArchFigures & { version: string; params: number; openblas_env_unset: string[] }
  /** Our time per image / PyTorch's, same run (below 1 = faster): wall-clock medians, and CPU-time medians. */
  ratio?: { train: number; infer: number; train_cpu: number; infer_cpu: number }
  torch_error?: string
  /** With `profile`: kernels of the timed training steps by exclusive time, largest first. */
  profile?: KernelTime[]
  /** With `profile`: the same for the timed inference passes. */
  profile_infer?: KernelTime[]
  /** Load average (1 min) before and after: the machine is shared. */
  load: [number, number]
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

function figures(
  train: number[],
  infer: number[],
  batch: number,
  threads: number,
  cpu: [number[], number[]]
): ArchFigures {
  const t = median(train)
  const i = median(infer)
  return {
    train_ms_per_step: t,
    infer_ms_per_step: i,
    train_img_per_s: (1000 * batch) / t,
    infer_img_per_s: (1000 * batch) / i,
    train_ms_per_image: t / batch,
    infer_ms_per_image: i / batch,
    per_train_ms: train,
    per_infer_ms: infer,
    train_cpu_ms_per_step: median(cpu[0]),
    infer_cpu_ms_per_step: median(cpu[1]),
    threads
  }
}

/** Names of the torchvision twins, by registry key (architectures without one cannot be compared). */
export const TORCH_TWINS: Readonly<Record<string, string>> = {
  smallcnn: 'smallcnn',
  resnet18: 'resnet18',
  resnet50: 'resnet50',
  mobilenetv2: 'mobilenet_v2',
  densenet121: 'densenet121',
  vit_small: 'vit_small',
  deit_small: 'vit_small'
}

/**
 * Wraps every kernel of the active backend so its exclusive wall and CPU time
 * are summed into `table()` while it is not null; returns a function that
 * restores the original kernels.
 */
function kernelTimer(table: () => Map<string, { ms: number; cpu: number; calls: number }> | null): {
  restore: () => void
} {
  const backendName = tf.getBackend()
  const originals = tf.getKernelsForBackend(backendName)
  const stack: [number, number][] = []
  const cpuNow = (): number => {
    const c = process.cpuUsage()
    return (c.user + c.system) / 1000
  }
  for (const k of originals) {
    const inner = k.kernelFunc
    tf.unregisterKernel(k.kernelName, backendName)
    tf.registerKernel({
      ...k,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t = table()
        if (t === null) return inner(args)
        stack.push([0, 0])
        const t0 = performance.now()
        const c0 = cpuNow()
        try {
          return inner(args)
        } finally {
          const total = performance.now() - t0
          const cpu = cpuNow() - c0
          const children = stack.pop() ?? [0, 0]
          if (stack.length > 0) {
            stack[stack.length - 1][0] += total
            stack[stack.length - 1][1] += cpu
          }
          const row = t.get(k.kernelName) ?? { ms: 0, cpu: 0, calls: 0 }
          row.ms += total - children[0]
          row.cpu += cpu - children[1]
          row.calls++
          t.set(k.kernelName, row)
        }
      }) as tf.KernelFunc
    })
  }
  const restore = (): void => {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, backendName)
      tf.registerKernel(k)
    }
  }
  return { restore }
}

function kernelTable(t: Map<string, { ms: number; cpu: number; calls: number }>): KernelTime[] {
  const total = [...t.values()].reduce((a, r) => a + r.ms, 0)
  return [...t.entries()]
    .map(([kernel, r]) => ({ kernel, ms: r.ms, cpu_ms: r.cpu, calls: r.calls, share: r.ms / total }))
    .sort((a, b) => b.ms - a.ms)
}

/** Runs the twin with Debian's /usr/bin/python3 on one thread; throws with the reason when it cannot. */
export function runTorchArch(o: {
  arch: string
  size: number
  channels: number
  batch: number
  classes: number
  stem: 'small' | 'imagenet'
  steps: number
  warmup: number
}): NonNullable<BenchArchResult['torch']> {
  const twin = TORCH_TWINS[o.arch]
  if (twin === undefined)
    throw new Error(`no PyTorch twin for architecture "${o.arch}" (twins: ${Object.keys(TORCH_TWINS).join(', ')})`)
  const python = '/usr/bin/python3'
  if (!existsSync(python)) throw new Error(`${python} not found (PyTorch comparison needs Debian's python3-torch)`)
  const args = [torchScriptPath(), '--arch', twin, '--size', String(o.size), '--channels', String(o.channels)]
  args.push('--batch', String(o.batch), '--classes', String(o.classes), '--stem', o.stem)
  args.push('--steps', String(o.steps), '--warmup', String(o.warmup), '--threads', '1')
  // The machine's OpenBLAS tuning variables are for our addon; PyTorch runs with its defaults.
  const env = { ...process.env }
  const unset = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'].filter((k) => k in env)
  for (const k of unset) delete env[k]
  const run = spawnSync(python, args, { encoding: 'utf8', timeout: 3_600_000, env })
  if (run.status !== 0) {
    const why = (run.stderr || run.error?.message || '').trim().split('\n').pop()
    throw new Error(`torch_bench.py --arch ${twin} failed: ${why}`)
  }
  const t = JSON.parse(run.stdout) as {
    train_ms: number[]
    infer_ms: number[]
    train_cpu_ms: number[]
    infer_cpu_ms: number[]
    threads: number
    version: string
    params: number
  }
  return {
    ...figures(t.train_ms, t.infer_ms, o.batch, t.threads, [t.train_cpu_ms, t.infer_cpu_ms]),
    version: t.version,
    params: t.params,
    openblas_env_unset: unset
  }
}

function loadAvg(): number {
  return os.loadavg()[0]
}

function describeFailure(e: unknown, o: BenchArchOptions, what: string): Error {
  const text = e instanceof Error ? e.message : String(e)
  if (/out of bounds|Aborted|Out of memory|memory/i.test(text)) {
    return new Error(
      `${what} of ${o.arch} at ${o.size} px × ${o.channels} ch, batch ${o.batch}, ran out of the wasm heap (${text.split('\n')[0]}); try a smaller --batch`
    )
  }
  return e instanceof Error ? e : new Error(text)
}

/**
 * The trainer's micro-batch for this batch: the architecture's footprint measured once per
 * machine (cached under the user's cache folder), planned under one engine process's default
 * memory limit.
 */
async function plannedMicroBatch(
  arch: string,
  inputShape: [number, number, number],
  batch: number,
  backend: string
): Promise<number> {
  const { defaultMemoryLimit, footprintFor, planMemory } = await import('../models/memory')
  const cacheDir = join(process.env.XDG_CACHE_HOME || join(os.homedir(), '.cache'), 'fissionfusion', 'memory')
  const fp = await footprintFor({ arch, inputShape, backend, cacheDir })
  const plan = planMemory(fp, batch, defaultMemoryLimit(1))
  if (!plan.fits) throw new Error(plan.message)
  return plan.microBatch
}

/**
 * Times `steps` training steps (after `warmup`) and as many inference passes of
 * one batch of random images through a fresh `arch` model on the active backend
 * (initialising it if needed). Leaves no tensors behind.
 */
export async function benchArch(o: BenchArchOptions): Promise<BenchArchResult> {
  const arch = getArch(o.arch)
  const steps = o.steps ?? 5
  const warmup = o.warmup ?? 2
  const classes = o.classes ?? 10
  if (!Number.isInteger(o.size) || o.size < arch.minSize)
    throw new Error(`--size: ${o.arch} needs at least ${arch.minSize} px, got ${o.size}`)
  if (o.channels !== 1 && o.channels !== 3) throw new Error(`--channels: 1 or 3, got ${o.channels}`)
  if (!Number.isInteger(o.batch) || o.batch < 2) throw new Error(`--batch: a whole number ≥ 2, got ${o.batch}`)
  if (steps < 1 || warmup < 0) throw new Error('--steps ≥ 1 and --warmup ≥ 0')
  const info = backendInfo() ?? (await initBackend())
  const load0 = loadAvg()
  const inputShape: [number, number, number] = [o.size, o.size, o.channels]
  const stem = stemOf({ inputShape, numClasses: classes, seed: 1 })
  const microBatch = o.microBatch ?? (await plannedMicroBatch(o.arch, inputShape, o.batch, info.backend))
  const model = arch.build({ inputShape, numClasses: classes, seed: 1 })
  const opt = new AdamW({ weightDecay: 1e-4 })
  const params: NamedVariable[] = model.layers.flatMap((l) =>
    l.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
  )
  const x = tf.randomUniform([o.batch, ...inputShape], 0, 1, 'float32', 7) as tf.Tensor4D
  const labels = {
    y: tf.tensor1d(
      Int32Array.from({ length: o.batch }, (_, i) => i % classes),
      'int32'
    )
  }
  type Table = Map<string, { ms: number; cpu: number; calls: number }>
  const trainTable: Table = new Map()
  const inferTable: Table = new Map()
  let profiling: Table | null = null
  const timer = o.profile ? kernelTimer(() => profiling) : undefined
  try {
    const cpuTrain: number[] = []
    const cpuInfer: number[] = []
    const cpuMs = (c0: NodeJS.CpuUsage): number => {
      const d = process.cpuUsage(c0)
      return (d.user + d.system) / 1000
    }
    const y = Int32Array.from({ length: o.batch }, (_, i) => i % classes)
    const stepCtx: StepContext = { model, params, opt, task: 'single', microBatch }
    const step = (cpu?: number[]): number => {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      if (microBatch < o.batch) {
        // The trainer's own step: micro-batches whose gradients add up to the batch's.
        trainStep(stepCtx, { x, y, n: o.batch }, 1e-4)
      } else {
        bareStep(model, params, opt, x, labels, 1e-4)
      }
      const ms = performance.now() - t0
      cpu?.push(cpuMs(c0))
      return ms
    }
    const infer = (cpu?: number[]): number => {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      tf.tidy(() => (model.apply(x, { training: false }) as tf.Tensor).dataSync())
      const ms = performance.now() - t0
      cpu?.push(cpuMs(c0))
      return ms
    }
    // Untimed warm-up, then the timed passes (their kernels profiled into `table` when asked).
    const timed = (
      pass: (cpu?: number[]) => number,
      cpu: number[],
      table: typeof profiling,
      what: 'training' | 'inference'
    ): number[] => {
      const ms: number[] = []
      try {
        for (let i = 0; i < warmup; i++) pass()
        profiling = table
        for (let i = 0; i < steps; i++) ms.push(pass(cpu))
        profiling = null
      } catch (e) {
        throw describeFailure(e, o, what)
      }
      return ms
    }
    const train = timed(step, cpuTrain, trainTable, 'training')
    const inference = timed(infer, cpuInfer, inferTable, 'inference')
    // The network and schedule both sides run.
    const shape = { arch: o.arch, size: o.size, channels: o.channels, batch: o.batch, classes, stem, steps, warmup }
    const result: BenchArchResult = {
      ...shape,
      params: params.reduce((a, p) => a + p.variable.size, 0),
      backend: info.backend,
      compute: info.compute,
      ours: figures(train, inference, o.batch, info.threads, [cpuTrain, cpuInfer]),
      microBatch: Math.min(microBatch, o.batch),
      microBatches: Math.ceil(o.batch / Math.min(microBatch, o.batch)),
      load: [load0, NaN]
    }
    if (timer) {
      result.profile = kernelTable(trainTable)
      result.profile_infer = kernelTable(inferTable)
    }
    if (o.compareTorch) {
      try {
        result.torch = runTorchArch(shape)
        result.ratio = {
          train: result.ours.train_ms_per_image / result.torch.train_ms_per_image,
          infer: result.ours.infer_ms_per_image / result.torch.infer_ms_per_image,
          train_cpu: result.ours.train_cpu_ms_per_step / result.torch.train_cpu_ms_per_step,
          infer_cpu: result.ours.infer_cpu_ms_per_step / result.torch.infer_cpu_ms_per_step
        }
      } catch (e) {
        result.torch_error = e instanceof Error ? e.message : String(e)
      }
    }
    result.load[1] = loadAvg()
    return result
  } finally {
    timer?.restore()
    tf.dispose([x, labels.y])
    opt.dispose()
    model.dispose()
  }
}

/** Registry keys benchArch accepts (for --help). */
export function benchArchNames(): string[] {
  return Object.keys(ARCHITECTURES)
}
