// The project's wasm kernels: ONE explicit list per kernel set, registered by
// registerWasmKernels() (nothing registers itself on import).
import {
  getKernel,
  registerGradient,
  registerKernel,
  unregisterKernel,
  type GradConfig,
  type KernelConfig,
  type KernelFunc
} from '@tensorflow/tfjs'
import type { NativeAddon } from '../native'
import { batchNormGradConfig } from './batchnorm_grad'
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter'
import { conv2dBackpropInputConfig } from './conv2d_backprop_input'
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise_backprop'
import { maxPoolGradConfig } from './max_pool_grad'
import { meanGradConfig } from './mean_grad'
import { clipByValueGradConfig, relu6GradConfig, reluGradConfig, squareGradConfig } from './relu_grad'
import { nativeKernelConfigs } from './native'
import { nativeMatMulConfigs } from './matmul_native'

/**
 * Kernels the wasm backend lacks (Conv2DBackpropFilter, both depthwise
 * gradients) or runs slowly (tfjs-backend-wasm 4.22's Conv2DBackpropInput is
 * ~7-10x and its MaxPoolGrad ~2.4x slower than ours on the benchmark's
 * shapes). Its AvgPoolGrad is kept (tested against the cpu backend too).
 * These are the fallback when the native addon is not loaded.
 */
export const wasmKernelConfigs: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig
]

// The backend's own kernels this module replaced, kept to restore them and as the native kernels' fallback.
const originals = new Map<string, KernelConfig | undefined>()

function own(name: string): KernelFunc {
  const k = originals.has(name) ? originals.get(name) : getKernel(name, 'wasm')
  if (k == null) throw new Error(`wasm backend has no ${name} kernel`)
  return k.kernelFunc
}

/**
 * The kernels registered when the native addon loaded: Identity and same-dtype
 * Cast without a copy, the addon's (Add of a per-channel vector, Conv2D, FusedConv2D, Conv2DBackpropFilter,
 * Conv2DBackpropInput, MaxPoolGrad, Sum over leading axes), then the JS kernels it does not replace (depthwise gradients).
 */
export function nativeKernelSet(addon: NativeAddon): KernelConfig[] {
  // FF_NATIVE_SKIP=Name,Name (diagnosis): those kernels stay the backend's own.
  const skip = new Set(
    (process.env.FF_NATIVE_SKIP ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  )
  const natives = [...nativeKernelConfigs(addon, own), ...nativeMatMulConfigs(addon, own)].filter(
    (k) => !skip.has(k.kernelName)
  )
  const names = new Set(natives.map((k) => k.kernelName))
  return [...natives, ...wasmKernelConfigs.filter((k) => !names.has(k.kernelName))]
}

/**
 * Registers one kernel set on 'wasm' (the native set when `native` is given,
 * else {@link wasmKernelConfigs}), first restoring any backend kernel an
 * earlier call replaced; returns the registered names.
 */
export function registerWasmKernels(opts: { native?: NativeAddon } = {}): string[] {
  for (const [name, config] of originals) {
    if (getKernel(name, 'wasm') != null) unregisterKernel(name, 'wasm')
    if (config) registerKernel(config)
  }
  const configs = opts.native ? nativeKernelSet(opts.native) : wasmKernelConfigs
  for (const config of configs) {
    const existing = getKernel(config.kernelName, 'wasm')
    if (!originals.has(config.kernelName)) originals.set(config.kernelName, existing)
    if (existing != null) unregisterKernel(config.kernelName, 'wasm')
    registerKernel(config)
  }
  return configs.map((k) => k.kernelName)
}

/**
 * Gradients the project replaces on every backend (the math is backend-neutral):
 * FusedBatchNorm's without tfjs-core's full-size Tile (~40% of a BatchNorm CNN's
 * training step on wasm); Mean's without a ones tensor, Relu's and Relu6's as one pass
 * (native on wasm).
 */
export const gradientConfigs: readonly GradConfig[] = [
  batchNormGradConfig,
  meanGradConfig,
  reluGradConfig,
  relu6GradConfig,
  squareGradConfig,
  clipByValueGradConfig
]

/** Registers {@link gradientConfigs} (replacing tfjs-core's); returns their kernel names. */
export function registerGradients(): string[] {
  for (const config of gradientConfigs) registerGradient(config)
  return gradientConfigs.map((g) => `${g.kernelName} gradient`)
}
