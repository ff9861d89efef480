// Glue shared by the project's wasm kernels: calling the backend's own kernels
// directly (no engine bookkeeping, no tape) and reading/writing its heap.
import { getKernel, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'

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
