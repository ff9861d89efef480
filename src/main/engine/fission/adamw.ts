/**
 * AdamW (Loshchilov & Hutter 2019) with decoupled weight decay, exactly as PyTorch's
 * `torch.optim.AdamW` (amsgrad off): for each parameter p with gradient g at step t,
 *
 *   p ← p · (1 − lr · wd)
 *   m ← β1 m + (1 − β1) g          v ← β2 v + (1 − β2) g²
 *   p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 *
 * tfjs has no AdamW; its state (m, v, t) is serialisable so a training resumes exactly.
 */
import * as tf from '@tensorflow/tfjs'
import { fusedAdamW } from '../compute/kernels/adamw'
import type { OptimizerSnapshot } from '../models/checkpoint'

/** AdamW hyperparameters. */
export interface AdamWConfig {
  /** Default 0.9. */
  beta1?: number
  /** Default 0.999. */
  beta2?: number
  /** Default 1e-8. */
  epsilon?: number
  /** Decoupled weight decay per unit learning rate; default 1e-4 (0 = plain Adam). */
  weightDecay?: number
}

/** A trainable variable with its stable name. */
export interface NamedVariable {
  name: string
  variable: tf.Variable
}

/** The optimizer; holds one m and one v per parameter it has updated. */
export class AdamW {
  readonly beta1: number
  readonly beta2: number
  readonly epsilon: number
  readonly weightDecay: number
  /** Updates applied so far. */
  step = 0
  private readonly slots = new Map<string, { m: tf.Variable; v: tf.Variable }>()

  constructor(config: AdamWConfig = {}) {
    this.beta1 = config.beta1 ?? 0.9
    this.beta2 = config.beta2 ?? 0.999
    this.epsilon = config.epsilon ?? 1e-8
    this.weightDecay = config.weightDecay ?? 1e-4
  }

  /** Restores a saved state (moments and step); hyperparameters come from the snapshot unless overridden. */
  static fromSnapshot(s: OptimizerSnapshot, override: AdamWConfig = {}): AdamW {
    const opt = new AdamW({ ...s.meta, ...override })
    opt.step = s.meta.step
    for (const [name, mv] of s.moments) {
      opt.slots.set(name, {
        m: tf.tidy(() => tf.variable(tf.tensor(mv.m, mv.shape), false)),
        v: tf.tidy(() => tf.variable(tf.tensor(mv.v, mv.shape), false))
      })
    }
    return opt
  }

  /** Applies one update with learning rate `lr`; `grads[k]` is the gradient of `params[k]`. */
  apply(params: NamedVariable[], grads: tf.Tensor[], lr: number): void {
    this.step++
    const bc1 = 1 - this.beta1 ** this.step
    const bc2 = 1 - this.beta2 ** this.step
    params.forEach(({ name, variable }, k) => {
      let slot = this.slots.get(name)
      if (!slot) {
        // tidy: tf.variable keeps its own reference, the initial tensor must go.
        slot = tf.tidy(() => ({
          m: tf.variable(tf.zerosLike(variable), false),
          v: tf.variable(tf.zerosLike(variable), false)
        }))
        this.slots.set(name, slot)
      }
      const { m, v } = slot
      // One native pass on wasm (compute/kernels/adamw.ts); the same math below elsewhere.
      const step = {
        lr,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        weightDecay: this.weightDecay,
        t: this.step
      }
      if (tf.tidy(() => fusedAdamW(variable, grads[k], m, v, step))) return
      tf.tidy(() => {
        const g = grads[k]
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1))
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2))
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), this.epsilon)
        const decayed = tf.mul(variable, 1 - lr * this.weightDecay)
        m.assign(m1)
        v.assign(v1)
        variable.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / bc1)))
      })
    })
  }

  /** A copy of the state for a checkpoint. */
  snapshot(): OptimizerSnapshot {
    const moments: OptimizerSnapshot['moments'] = new Map()
    for (const [name, { m, v }] of this.slots) {
      moments.set(name, {
        m: Float32Array.from(m.dataSync() as Float32Array),
        v: Float32Array.from(v.dataSync() as Float32Array),
        shape: m.shape.slice()
      })
    }
    return {
      meta: {
        kind: 'adamw',
        step: this.step,
        beta1: this.beta1,
        beta2: this.beta2,
        epsilon: this.epsilon,
        weightDecay: this.weightDecay
      },
      moments
    }
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const { m, v } of this.slots.values()) {
      m.dispose()
      v.dispose()
    }
    this.slots.clear()
  }

  [Symbol.dispose](): void {
    this.dispose()
  }
}
