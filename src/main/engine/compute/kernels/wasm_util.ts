// Glue shared by the project's wasm kernels: calling the backend's own kernels
// directly (no engine bookkeeping, no tape) and reading/writing its heap.
import { getKernel, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'

/** A 4-d (NHWC or HWIO) shape. */
export type Shape4 = [number, number, number, number]

/** Runs another wasm kernel on backend-level tensors; the caller owns (and disposes) the result. */
export function runWasmKernel(
  backend: BackendWasm,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {}
): TensorInfo {
  const kernel = getKernel(name, 'wasm')
  if (kernel == null) throw new Error(`wasm backend has no ${name} kernel`)
  return kernel.kernelFunc({ inputs, attrs, backend }) as TensorInfo
}

/**
 * The backend's own stride-1 NHWC Conv2D of `x` by `filter` (caller owns the result): `pad` 'valid' or
 * explicit [top, bottom, left, right] rows and columns of zeros.
 */
export function runConv2D(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  dilations: number | [number, number],
  pad: 'valid' | [number, number, number, number]
): TensorInfo {
  const padding =
    pad === 'valid'
      ? pad
      : [
          [0, 0],
          [pad[0], pad[1]],
          [pad[2], pad[3]],
          [0, 0]
        ]
  return runWasmKernel(backend, 'Conv2D', { x, filter }, { strides: 1, dilations, pad: padding, dataFormat: 'NHWC' })
}

/** Frees a backend-level intermediate made by {@link runWasmKernel} or `makeOutput`. */
export function release(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId)
}

/**
 * A float32 view of a tensor on the wasm heap. Take views only after the last
 * allocation of a kernel: growing the heap detaches earlier views.
 */
export function heapF32(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array
}

/** Throws unless the op is NHWC (the wasm convolutions are channels-last only). */
export function assertNHWC(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat 'NHWC' only, got '${dataFormat}'`)
  }
}

/** A wasm kernel's call: its inputs, attributes and backend. */
export type WasmKernelArgs = Parameters<KernelFunc>[0]

/**
 * The registration of a wasm kernel: `f` gets the inputs, the attributes as `A` and the backend,
 * and the whole call (to hand on to another kernel).
 */
export function wasmKernel<A = unknown>(
  kernelName: string,
  f: (
    inputs: Record<string, TensorInfo>,
    attrs: A,
    backend: BackendWasm,
    args: WasmKernelArgs
  ) => TensorInfo | TensorInfo[]
): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: ((args: WasmKernelArgs) =>
      f(
        args.inputs as Record<string, TensorInfo>,
        args.attrs as unknown as A,
        args.backend as BackendWasm,
        args
      )) as KernelFunc
  }
}

/** A new float32 output of `shape`, computed in place by `fill` on its heap view (not called when it is empty). */
export function floatOutput(backend: BackendWasm, shape: number[], fill: (out: Float32Array) => void): TensorInfo {
  const out = backend.makeOutput(shape, 'float32')
  if (shape.every((d) => d > 0)) fill(heapF32(backend, out))
  return out
}
