// The AdamW update as one kernel ('FFAdamW', native on wasm): the optimizer's ten
// element-wise ops per parameter (each a pass over memory, ~10% of a ResNet-18
// training step on wasm) become one pass. Other backends keep the tfjs ops.
import * as tf from '@tensorflow/tfjs'
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs'
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm'
import type { NativeAddon } from '../native'
import { heapF32 } from './wasm_util'

/** Kernel name of the fused AdamW step. */
export const FF_ADAMW = 'FFAdamW'

/** Hyperparameters of one step (t = the step number, from 1). */
export interface AdamWStep {
  lr: number
  beta1: number
  beta2: number
  epsilon: number
  weightDecay: number
  t: number
}

/** The constants the kernel takes, computed in double as the tfjs ops' scalars are. */
export function adamwConstants(s: AdamWStep): number[] {
  const bc1 = 1 - s.beta1 ** s.t
  const bc2 = 1 - s.beta2 ** s.t
  return [s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, Math.sqrt(bc2), s.epsilon, 1 - s.lr * s.weightDecay, s.lr / bc1]
}

/** The native kernel on wasm: inputs p, g, m, v; outputs [p1, m1, v1]. */
export function adamwKernelConfig(addon: NativeAddon): KernelConfig {
  return {
    kernelName: FF_ADAMW,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }) => {
      const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', TensorInfo>
      const be = backend as BackendWasm
      const outs = [
        be.makeOutput(p.shape, 'float32'),
        be.makeOutput(p.shape, 'float32'),
        be.makeOutput(p.shape, 'float32')
      ]
      const h = Float32Array.from((attrs as unknown as { h: number[] }).h)
      const [p1, m1, v1] = outs.map((t) => heapF32(be, t))
      addon.adamw(heapF32(be, p), heapF32(be, g), heapF32(be, m), heapF32(be, v), p1, m1, v1, h)
      return outs
    }) as KernelFunc
  }
}

/**
 * One AdamW step with the fused kernel when the active backend has it: assigns the
 * new values to `variable`, `m` and `v` and returns true; false (nothing done) when
 * the backend has no fused kernel, so the caller runs the tfjs ops.
 */
export function fusedAdamW(
  variable: tf.Variable,
  g: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  step: AdamWStep
): boolean {
  if (tf.getKernel(FF_ADAMW, tf.getBackend()) == null) return false
  if (variable.dtype !== 'float32' || g.dtype !== 'float32') return false
  const outs = tf.engine().runKernel(FF_ADAMW, { p: variable, g, m, v }, { h: adamwConstants(step) }) as tf.Tensor[]
  variable.assign(outs[0])
  m.assign(outs[1])
  v.assign(outs[2])
  tf.dispose(outs)
  return true
}
