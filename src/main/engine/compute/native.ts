// The optional native addon (native/ff_native.c, built by scripts/build-native.mjs
// at `npm ci`): convolution and pooling kernels that compute on the wasm heap
// with OpenBLAS. When it is missing the engine runs the JS kernels and says why.
import { electronBinary } from '../../platform/binaries'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorText } from '../../../shared/errors'

/** Geometry of a convolution or pool, in this order (NHWC input, HWIO filter). */
export type NativeGeom = Int32Array

/** The addon's functions; every array is a Float32Array view of the wasm heap (written in place). */
export interface NativeAddon {
  /** y = act(conv(x, filter) + bias); act 0 linear, 1 relu, 2 relu6; bias may be null. */
  conv2d(
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    y: Float32Array,
    g: NativeGeom,
    act: number
  ): void
  /** dw (HWIO) of a convolution. */
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, g: NativeGeom): void
  /**
   * dx (NHWC) of a convolution. `prepared` (as many floats as the filter) receives the filter
   * transposed for the direct kernels when `fill`, and is read instead of transposing it again when not.
   */
  conv2dBackpropInput(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    g: NativeGeom,
    prepared?: Float32Array | null,
    fill?: boolean
  ): void
  /** dx of a max pool (geometry: ci = channels, kh×kw = window). */
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, g: NativeGeom): void
  /** out = x + bias, bias (length C) broadcast over x's last axis (x.length a multiple of C). */
  addBias(x: Float32Array, bias: Float32Array, out: Float32Array): void
  /**
   * Element-wise over equal lengths: op 0 a + b, 1 a − b, 2 a · b, 3 a · step(b) (ReLU gradient),
   * 4 a · (0 < b ≤ 6) (ReLU6 gradient), 5 a · (b · 2) (Square gradient).
   */
  binary(a: Float32Array, b: Float32Array, out: Float32Array, op: number): void
  /** v (length C) broadcast over x's last axis: op 1 out = x − v, 2 x · v, 3 v − x. */
  biasOp(x: Float32Array, v: Float32Array, out: Float32Array, op: number): void
  /** BatchNorm over x's last axis (C = mean.length): out = (x − mean) · scale / √(variance + ε) + offset. */
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    out: Float32Array,
    epsilon: number,
    relu?: boolean
  ): void
  /** out = dy where min ≤ x ≤ max, else 0 (the gradient of ClipByValue). */
  clipGrad(dy: Float32Array, x: Float32Array, out: Float32Array, min: number, max: number): void
  /** Depthwise gradient, channel multiplier 1: which 0 → dx from (dy, filter), 1 → dw from (x, dy). */
  depthwiseBackprop(which: 0 | 1, a: Float32Array, b: Float32Array, out: Float32Array, g: NativeGeom): void
  /** Per channel (x's last axis, C = mean.length): sumDy = Σ dy, sumDyXc = Σ dy · (x − mean). */
  bnReduce(dy: Float32Array, x: Float32Array, mean: Float32Array, sumDy: Float32Array, sumDyXc: Float32Array): void
  /** out[r·C + c] = v[c] / divisor for every row r (out.length a multiple of C = v.length). */
  fillRows(v: Float32Array, out: Float32Array, divisor: number): void
  /** out[c] = Σ_r x[r·cols + c] for r < rows. */
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number): void
  /** out = x[begin : begin + size] along every axis of a row-major float32 tensor of `shape` (at most 8 axes). */
  slice(x: Float32Array, out: Float32Array, shape: Int32Array, begin: Int32Array, size: Int32Array): void
  /**
   * One AdamW step over a parameter: writes p1, m1, v1 from p, g, m, v (equal lengths);
   * h = [β1, 1 − β1, β2, 1 − β2, √(1 − β2^t), ε, 1 − lr·wd, lr / (1 − β1^t)] (see kernels/adamw.ts).
   */
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    p1: Float32Array,
    m1: Float32Array,
    v1: Float32Array,
    h: Float32Array
  ): void
  /** Threads of the matrix products (≥ 1). */
  setThreads(n: number): void
  /** OpenBLAS's build description (version, target CPU). */
  blasConfig(): string
  /** Instruction set of the direct kernels: 'AVX-512', 'AVX2' or 'generic'. */
  simd(): string
}

/** Whether the addon loaded (with its instruction set and BLAS, e.g. 'AVX-512, OpenBLAS 0.3.21'), and if not why. */
export type NativeStatus = { loaded: true; addon: NativeAddon; blas: string } | { loaded: false; reason: string }

/**
 * The addon's folder: native/ at the repository root, found upwards from this
 * file (src/main/engine/compute when run from source, out/main/… when bundled).
 */
export function nativeDir(): string {
  const start = path.dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'native', 'binding.gyp'))) return path.join(dir, 'native')
    if (path.dirname(dir) === dir) return path.resolve(start, '../../../../native')
  }
}

let status: NativeStatus | undefined

/** The addon file: the packaged app's resources/native/ff_native.node, else the repository build. */
export function nativeAddonFile(dir: string = nativeDir(), resources?: string): string {
  return electronBinary('ff_native.node', { resources }) ?? path.join(dir, 'build', 'Release', 'ff_native.node')
}

/**
 * Loads native/build/Release/ff_native.node once. Env FF_NATIVE=0 turns it
 * off for the next backend start (the reason then says so). Never throws: a
 * failure is a reason.
 */
export function loadNative(): NativeStatus {
  if (process.env.FF_NATIVE === '0') return { loaded: false, reason: 'turned off by FF_NATIVE=0' }
  if (status) return status
  const dir = nativeDir()
  const file = nativeAddonFile(dir)
  if (!existsSync(file)) {
    // scripts/build-native.mjs leaves the build's failure here.
    const log = path.join(dir, 'build-error.txt')
    const why = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n')[0] : 'run `npm run build:native`'
    return (status = { loaded: false, reason: `native addon not built: ${why}` })
  }
  try {
    // OpenMP workers sleep between kernels instead of spinning: the tfjs work in
    // between is single-threaded and the machine is usually shared. libgomp reads
    // it once, when the addon loads it; child processes (PyTorch) keep the default.
    const policy = process.env.OMP_WAIT_POLICY
    process.env.OMP_WAIT_POLICY = policy ?? 'passive'
    let addon: NativeAddon
    try {
      addon = createRequire(import.meta.url)(file) as NativeAddon
    } finally {
      if (policy === undefined) delete process.env.OMP_WAIT_POLICY
    }
    const config = addon.blasConfig()
    const blas = `${addon.simd()}, OpenBLAS ${config.replace(/^OpenBLAS\s*/, '').split(' ')[0]}`
    return (status = { loaded: true, addon, blas })
  } catch (e) {
    const text = errorText(e).split('\n')[0].replaceAll(dir, 'native')
    return (status = { loaded: false, reason: `native addon failed to load: ${text}` })
  }
}
