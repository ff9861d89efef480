/**
 * The working-set planner: how much memory one training step of an architecture needs, measured
 * (not guessed), and how a batch is split into micro-batches so that an engine process stays
 * under a memory limit. See docs/MEMORY.md.
 *
 * Measurement (fission/footprint.ts, measureFootprint): forward passes (inference) of 1 and 8
 * images, then real training steps (AdamW, micro-batches accumulated) of 1 + 1 and n + n images
 * at the real input size (inputs larger than {@link MEASURE_MAX_SIDE} px are measured at that side
 * and the per-image part is scaled by the pixel ratio), reading the wasm heap's high-water mark
 * (it only grows; other backends: tf.profile's peak tensor bytes) and the process's peak resident
 * memory (maxRSS: the heap's touched pages plus the native kernels' and BLAS's buffers).
 * Per image = (peak(n) − peak(1)) / (n − 1); fixed = peak(1) − per image. The
 * measurement runs in a short-lived child process ({@link footprintFor}) so that no long-lived
 * process keeps the heap it grew, and is cached per (arch, options, shape, backend) in the
 * workspace.
 *
 * Planning ({@link planMemory}): expected peak resident memory = measured fixed part (Node,
 * tfjs, weights, gradients, AdamW's moments, the accumulator) + micro-batch × per image + a
 * checkpoint's JS copies + the batch's input tensors + slack, kept under the limit; the heap's
 * share (plus its 96 MiB growth step) kept under the wasm32 heap's 4 GiB.
 */
import { childScript } from '../child-entry'
import { fork } from 'node:child_process'
import { existsSync, mkdirSync, promises as fsp } from 'node:fs'
import { totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ArchOptions, InputShape } from './types'

export const MiB = 2 ** 20
export const GiB = 2 ** 30
/** The wasm32 heap of an engine process holds at most this many bytes (every tensor on the wasm backend). */
export const WASM_HEAP_MAX = 4 * GiB
/** Larger inputs are measured at this side and scaled by the pixel ratio. */
export const MEASURE_MAX_SIDE = 224
/** Share of the machine's memory the default limit divides among the workers. */
export const DEFAULT_SHARE = 0.75
/** The wasm heap grows in steps of up to 96 MiB beyond what was asked (emscripten's over-growth). */
export const HEAP_STEP = 96 * MiB
/** Resident memory beyond the measured parts (data reader, JS objects of a training), bytes. */
const RSS_SLACK = 64 * MiB
/** Extra share on the measured per-image bytes (heap fragmentation, measurement noise). */
const PER_IMAGE_MARGIN = 1.1
/** Bump when the measurement changes so cached footprints are measured again. */
export const FOOTPRINT_VERSION = 6

/** What one architecture at one input shape needs, measured. */
export interface Footprint {
  version: number
  arch: string
  archOptions: ArchOptions
  /** The input shape planned for. */
  inputShape: InputShape
  /** The shape actually measured (smaller than inputShape for inputs over {@link MEASURE_MAX_SIDE} px). */
  measuredShape: InputShape
  backend: string
  /** How the peak was read. */
  method: 'wasm-heap' | 'tf-profile'
  /** Bytes of all weights (trainable and not). */
  weightBytes: number
  /** Bytes of the trainable weights (the size of the gradients and of each AdamW moment). */
  trainableBytes: number
  /** Training step: bytes that do not depend on the batch (weights, gradients, AdamW's moments, the accumulator, runtime). */
  trainFixedBytes: number
  /** Training step: bytes per image (activations kept for the backward pass and their gradients). */
  trainPerImageBytes: number
  /** Training step, peak resident memory of the process: fixed (Node, tfjs, weights, gradients, AdamW, the accumulator, native buffers) and per image. */
  rssFixedBytes: number
  rssPerImageBytes: number
  /** Resident memory a checkpoint write adds (JS copies of the weights and AdamW's moments). */
  checkpointBytes: number
  /** Inference: fixed bytes and bytes per image. */
  evalFixedBytes: number
  evalPerImageBytes: number
  /** Resident memory of an engine process outside the tensor heap (Node, tfjs, native kernels). */
  baseRssBytes: number
  /** Seconds the measurement took. */
  seconds: number
}

/** How one batch size trains under a limit. */
export interface MemoryPlan {
  /** The limit planned for (bytes of peak resident memory per engine process). */
  limitBytes: number
  batchSize: number
  /** Images per forward/backward pass (= batchSize when the batch fits). */
  microBatch: number
  /** Passes per batch. */
  microBatches: number
  /** Images per inference pass (evaluation). */
  evalBatch: number
  /** Expected peak resident memory of an engine process training this batch, bytes. */
  expectedPeakBytes: number
  /** Whether even one image fits; when false, `message` says what to change. */
  fits: boolean
  message?: string
}

/** The shape to measure for an input shape: the same, or scaled down to {@link MEASURE_MAX_SIDE} px on its longer side. */
export function measuredShapeOf([h, w, c]: InputShape, minSize = 1): InputShape {
  const f = Math.min(1, MEASURE_MAX_SIDE / Math.max(h, w))
  return [Math.max(minSize, Math.round(h * f)), Math.max(minSize, Math.round(w * f)), c]
}

/** Cache key of a footprint. */
export function footprintKey(o: {
  arch: string
  archOptions?: Footprint['archOptions']
  inputShape: InputShape
  backend: string
}): string {
  const v = o.archOptions?.vit
  const opts = [
    o.archOptions?.widthMultiplier ?? 1,
    o.archOptions?.stem ?? 'auto',
    ...(v ? [`vit${[v.patch, v.hidden, v.layers, v.heads, v.mlp].map((d) => d ?? '').join('.')}`] : [])
  ]
  return `v${FOOTPRINT_VERSION}-${o.backend}-${o.arch}-${opts.join('-')}-${o.inputShape.join('x')}`.replace(
    /[^A-Za-z0-9._-]/g,
    '_'
  )
}

/** What to measure. */
export interface MeasureOptions {
  arch: string
  archOptions?: Footprint['archOptions']
  inputShape: InputShape
  /** Head outputs (the head is a negligible part; default 2). */
  numClasses?: number
}

/** The footprint entry (a child process run with tsx, see memory-probe.ts). */
export const PROBE_ENTRY = fileURLToPath(new URL('../fission/footprint-probe.ts', import.meta.url))

/** Options of {@link footprintFor}. */
export interface FootprintOptions extends MeasureOptions {
  /** Backend the engine processes use (the probe starts the same). */
  backend: string
  /** Folder of cached footprints (the workspace's); none: always measured. */
  cacheDir?: string
}

const inflight = new Map<string, Promise<Footprint>>()

/**
 * The footprint from the cache, or measured once in a child engine process on `backend` and
 * cached. Concurrent calls for the same key share one measurement.
 */
export function footprintFor(o: FootprintOptions): Promise<Footprint> {
  const key = footprintKey(o)
  const file = o.cacheDir ? join(o.cacheDir, `${key}.json`) : null
  let p = inflight.get(key)
  if (!p) {
    p = (async () => {
      if (file && existsSync(file)) {
        try {
          const fp = JSON.parse(await fsp.readFile(file, 'utf8')) as Footprint
          if (fp.version === FOOTPRINT_VERSION) return fp
        } catch {
          /* measured again below */
        }
      }
      const fp = await measureInChild(o)
      if (file && o.cacheDir) {
        mkdirSync(o.cacheDir, { recursive: true })
        // written whole or not at all (a process killed mid-write leaves no half file)
        const tmp = `${file}.tmp-${process.pid}`
        await fsp.writeFile(tmp, JSON.stringify(fp, null, 1))
        await fsp.rename(tmp, file)
      }
      return fp
    })()
    inflight.set(key, p)
    void p.finally(() => inflight.delete(key)).catch(() => undefined)
  }
  return p
}

function measureInChild(o: FootprintOptions): Promise<Footprint> {
  const script = childScript(import.meta.url, '../fission/footprint-probe.ts', 'footprint-probe')
  return new Promise((resolve, reject) => {
    const child = fork(script.file, [], {
      execArgv: script.execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json'
    })
    let err = ''
    let answer: { ok: true; footprint: Footprint } | { ok: false; message: string } | undefined
    child.stderr?.setEncoding('utf8').on('data', (t: string) => {
      err = (err + t).slice(-2000)
    })
    child.on('message', (m: typeof answer) => {
      answer = m
    })
    child.once('close', (code, signal) => {
      if (answer?.ok) resolve(answer.footprint)
      else {
        const why =
          answer && !answer.ok
            ? answer.message
            : `exited ${signal ? `by ${signal}` : `with code ${code}`}${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`
        reject(new Error(`measuring the memory of ${o.arch} at ${o.inputShape.join('×')} failed: ${why}`))
      }
    })
    const { cacheDir: _c, ...request } = o
    child.send(request)
  })
}

/** Default limit of peak resident memory per engine process: a share of the machine's memory divided by the workers, at most the wasm heap's 4 GiB. */
export function defaultMemoryLimit(workers: number, total = totalmem()): number {
  return Math.floor(Math.min((DEFAULT_SHARE * total) / Math.max(1, workers), WASM_HEAP_MAX))
}

/** Bytes as `1.2 GiB` / `350 MiB`. */
export function formatBytes(b: number): string {
  return b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${Math.round(b / MiB)} MiB`
}

/** Balanced micro-batch sizes of a batch of `n` images with at most `max` each (e.g. 12, 5 → 4, 4, 4). */
export function splitBatch(n: number, max: number): number[] {
  const parts = Math.ceil(n / Math.max(1, max))
  const base = Math.floor(n / parts)
  return Array.from({ length: parts }, (_, i) => base + (i < n % parts ? 1 : 0))
}

/**
 * Peak expected when training micro-batches of `m` images out of a batch of `batch`: in the heap,
 * and resident (the measured fixed and per-image parts, the checkpoint's JS copies, the batch's
 * input tensors and some slack).
 */
function peakOf(fp: Footprint, batch: number, m: number): { heap: number; rss: number } {
  const inputBytes = 2 * batch * fp.inputShape[0] * fp.inputShape[1] * fp.inputShape[2] * 4
  const heap = fp.trainFixedBytes + inputBytes + Math.ceil(m * fp.trainPerImageBytes * PER_IMAGE_MARGIN) + HEAP_STEP
  const rss =
    fp.rssFixedBytes +
    inputBytes +
    Math.ceil(m * fp.rssPerImageBytes * PER_IMAGE_MARGIN) +
    fp.checkpointBytes +
    RSS_SLACK
  return { heap, rss }
}

/**
 * The micro-batch (largest that fits, then balanced) and evaluation batch for training `batchSize`
 * images per update under `limitBytes` of peak resident memory. When not even one image fits,
 * `fits` is false and `message` says so and what to change.
 */
export function planMemory(fp: Footprint, batchSize: number, limitBytes: number): MemoryPlan {
  const heapCap = fp.method === 'wasm-heap' ? WASM_HEAP_MAX - 64 * MiB : Infinity
  const ok = (m: number) => {
    const p = peakOf(fp, batchSize, m)
    return p.rss <= limitBytes && p.heap <= heapCap
  }
  let m = batchSize
  if (!ok(m)) {
    let lo = 0
    let hi = batchSize
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (ok(mid)) lo = mid
      else hi = mid
    }
    m = lo
  }
  const [h, w, c] = fp.inputShape
  if (m === 0) {
    const need = peakOf(fp, batchSize, 1)
    const why =
      need.heap > heapCap
        ? `the wasm heap's ${formatBytes(WASM_HEAP_MAX)}`
        : `the memory limit of ${formatBytes(limitBytes)}`
    return {
      limitBytes,
      batchSize,
      microBatch: 0,
      microBatches: 0,
      evalBatch: 0,
      expectedPeakBytes: need.rss,
      fits: false,
      message:
        `${fp.arch} at ${h}×${w}×${c} needs about ${formatBytes(need.rss)} per engine process to train even one image at a time ` +
        `(${formatBytes(fp.trainPerImageBytes)} per image), more than ${why}: import the data at a smaller size (e.g. --size ${Math.max(32, Math.floor(Math.max(h, w) / 2))}), ` +
        'choose a smaller architecture (--arch), or raise the limit (--memory-limit) if the machine has the memory'
    }
  }
  const sizes = splitBatch(batchSize, m)
  const micro = sizes[0]
  const peak = peakOf(fp, batchSize, micro)
  // Inference beside the trained model and its optimizer state: what remains of the heap after the fixed part.
  const evalRoom =
    Math.min(limitBytes - fp.rssFixedBytes - fp.checkpointBytes - RSS_SLACK, heapCap - fp.trainFixedBytes - HEAP_STEP) -
    2 * batchSize * h * w * c * 4
  const evalBatch = Math.max(
    1,
    Math.min(
      batchSize,
      fp.evalPerImageBytes > 0 ? Math.floor(evalRoom / (fp.evalPerImageBytes * PER_IMAGE_MARGIN)) : batchSize
    )
  )
  return {
    limitBytes,
    batchSize,
    microBatch: micro,
    microBatches: sizes.length,
    evalBatch,
    expectedPeakBytes: peak.rss,
    fits: true
  }
}

/** Peak resident memory of this process so far, bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024
}
