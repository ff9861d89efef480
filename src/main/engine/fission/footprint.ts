/**
 * Measures an architecture's {@link Footprint} (models/memory.ts) in THIS process with the real
 * training step: forward passes of 1 and 8 images (inference), then {@link trainStep} with AdamW
 * on 2 images as 1 + 1 and on 2n as n + n (n from 4, doubled while the heap's growth is too small to read) (micro-batches accumulated, so AdamW's moments and the
 * accumulator are in the fixed part), then the JS copies a checkpoint makes. The wasm heap grows
 * to the measured peak and never shrinks: run it in a short-lived process (footprint-probe.ts,
 * started by footprintFor). Leaves tf.memory().numTensors unchanged.
 */
import * as tf from '@tensorflow/tfjs'
import { weightsOf } from '../models/checkpoint'
import { getArch } from '../models/index'
import {
  FOOTPRINT_VERSION,
  HEAP_STEP,
  WASM_HEAP_MAX,
  measuredShapeOf,
  type Footprint,
  type MeasureOptions
} from '../models/memory'
import { AdamW } from './adamw'
import { trainStep } from './trainer'

const heapOf = (): number | null => {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }
  return b.wasm?.HEAPU8 ? b.wasm.HEAPU8.length : null
}
const maxRss = (): number => process.resourceUsage().maxRSS * 1024

/** Measures the footprint on the active backend (see the file header). */
export async function measureFootprint(o: MeasureOptions): Promise<Footprint> {
  const t0 = performance.now()
  const arch = getArch(o.arch)
  const measuredShape = measuredShapeOf(o.inputShape, arch.minSize)
  const scale = (o.inputShape[0] * o.inputShape[1]) / (measuredShape[0] * measuredShape[1])
  const k = o.numClasses ?? 2
  const model = arch.build({ ...o.archOptions, inputShape: measuredShape, numClasses: k, seed: 0 })
  // the trainer's process holds the starting checkpoint's weights in JS while it trains
  const start = weightsOf(model)
  const heap = heapOf()
  const baseRssBytes = Math.max(0, process.memoryUsage().rss - (heap ?? 0))
  const opt = new AdamW()
  try {
    const params = model.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
    const weightBytes = model.weights.reduce((a, w) => a + w.read().size * 4, 0)
    const trainableBytes = params.reduce((a, p) => a + p.variable.size * 4, 0)
    const peak = async (f: () => void): Promise<number> => {
      if (heap !== null) {
        f()
        return heapOf() as number
      }
      return (await tf.profile(f)).peakBytes
    }
    const profiled = async (f: () => void): Promise<number> => (await tf.profile(f)).peakBytes
    const forward = (n: number) => () =>
      tf.tidy(() => {
        const x = tf.randomNormal([n, ...measuredShape])
        ;(model.apply(x, { training: false }) as tf.Tensor).dataSync()
      })
    const step = (n: number) => () => {
      const x = tf.randomNormal<tf.Rank.R4>([2 * n, ...measuredShape])
      try {
        trainStep(
          { model, params, opt, task: 'single', microBatch: [n, n] },
          { x, y: Int32Array.from({ length: 2 * n }, (_, i) => i % k), n: 2 * n },
          1e-6
        )
      } finally {
        x.dispose()
      }
    }
    // Forward first: the heap only grows, and inference needs less than training. The heap grows
    // in steps of up to 96 MiB, so the second measurements take several images (8 forward, up to 4
    // per micro-batch in training) to keep that step a small part of the difference. Inference adds
    // little per image, often less than that step: take the larger of the heap's and tf.profile's
    // differences (evaluation batches only need to be safe).
    const h0 = heap ?? tf.memory().numBytes
    const e1 = await peak(forward(1))
    const e8 = await peak(forward(8))
    const p1 = await profiled(forward(1))
    const p8 = await profiled(forward(8))
    const t1 = await peak(step(1))
    const r1 = maxRss()
    // The second step takes n + n images, n doubled from 4 until the heap grew by at least two of
    // its growth steps (small networks: freed blocks and the last growth step absorb a few images),
    // as long as the estimate says it fits.
    const cap = heap === null ? Infinity : 0.85 * WASM_HEAP_MAX
    const firstPer = Math.max(1, t1 - h0)
    let trainPer: number
    let rssPer: number
    // firstPer (everything the first step added, AdamW included) over-estimates an image: a safe guess of room
    const n0 = t1 + 3 * firstPer <= cap ? 4 : t1 + firstPer <= cap ? 2 : 0
    if (n0 === 0) {
      // not room for more: everything above the model counts per image (an upper bound)
      trainPer = t1 - h0
      rssPer = Math.max(0, r1 - baseRssBytes - h0)
    } else {
      let n = n0
      for (;;) {
        const tn = await peak(step(n))
        trainPer = Math.max(0, (tn - t1) / (n - 1))
        rssPer = Math.max(0, (maxRss() - r1) / (n - 1))
        const next = 2 * n
        const guess = Math.max(trainPer, 1)
        if (tn - t1 >= 2 * HEAP_STEP || next > 64 || t1 + next * Math.max(guess, firstPer / 8) > cap) break
        n = next
      }
    }
    // a checkpoint: JS copies of the weights and of AdamW's moments, beside the trained heap
    const before = maxRss()
    const copies = [weightsOf(model), opt.snapshot()]
    const checkpointBytes = Math.max(0, maxRss() - before, 3 * weightBytes)
    copies.length = 0
    const evalPer = Math.max(0, (e8 - e1) / 7, (p8 - p1) / 7)
    return {
      version: FOOTPRINT_VERSION,
      arch: o.arch,
      archOptions: o.archOptions ?? {},
      inputShape: o.inputShape,
      measuredShape,
      backend: tf.getBackend(),
      method: heap === null ? 'tf-profile' : 'wasm-heap',
      weightBytes,
      trainableBytes,
      trainFixedBytes: Math.max(0, t1 - trainPer),
      trainPerImageBytes: Math.ceil(trainPer * scale),
      rssFixedBytes: Math.max(0, r1 - rssPer),
      rssPerImageBytes: Math.ceil(Math.max(rssPer, trainPer) * scale),
      checkpointBytes,
      evalFixedBytes: Math.max(0, e1 - evalPer),
      evalPerImageBytes: Math.ceil(evalPer * scale),
      baseRssBytes,
      seconds: (performance.now() - t0) / 1000
    }
  } finally {
    opt.dispose()
    model.dispose()
    start.length = 0
  }
}
