// The project's wasm kernels: ONE explicit list, registered by registerWasmKernels()
// (nothing registers itself on import).
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs'
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter'
import { conv2dBackpropInputConfig } from './conv2d_backprop_input'
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise_backprop'
import { maxPoolGradConfig } from './max_pool_grad'

/**
 * Kernels the wasm backend lacks (Conv2DBackpropFilter, both depthwise
 * gradients) or runs slowly (tfjs-backend-wasm 4.22's Conv2DBackpropInput is
 * ~7-10x and its MaxPoolGrad ~2.4x slower than ours on the benchmark's
 * shapes). Its AvgPoolGrad is kept (tested against the cpu backend too).
 */
export const wasmKernelConfigs: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig
]

/** Registers every kernel of {@link wasmKernelConfigs} on 'wasm', replacing the backend's own; returns their names. */
export function registerWasmKernels(): string[] {
  for (const config of wasmKernelConfigs) {
    if (getKernel(config.kernelName, config.backendName) != null) {
      unregisterKernel(config.kernelName, config.backendName)
    }
    registerKernel(config)
  }
  return wasmKernelConfigs.map((k) => k.kernelName)
}
