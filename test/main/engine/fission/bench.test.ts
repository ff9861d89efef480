import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { bareStepRate } from '../../../../src/main/engine/fission/bench'

describe('bench fission: the bare training step it compares a plan with', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    // V8 compiles the wasm module's optimised tier on background threads after start-up; that CPU
    // time is the process's too. Let it finish on untimed steps before the timed ones below.
    const t0 = Date.now()
    while (Date.now() - t0 < 1500) {
      bareStepRate({ arch: 'smallcnn', inputShape: [16, 16, 3], classes: 3, batch: 8, warmup: 0, steps: 5 })
    }
  })

  it('times real steps (wall and CPU, median) and leaves no tensor or variable behind', () => {
    const before = tf.memory().numTensors
    const r = bareStepRate({ arch: 'smallcnn', inputShape: [16, 16, 3], classes: 3, batch: 8, warmup: 1, steps: 3 })
    expect(tf.memory().numTensors).toBe(before)
    expect(r).toMatchObject({ batch: 8, steps: 3 })
    expect(r.imagesPerSecond).toBeGreaterThan(0)
    expect(Number.isFinite(r.imagesPerSecond) && Number.isFinite(r.imagesPerCpuSecond)).toBe(true)
    // one thread computes the step: its CPU time is at least a large part of its wall time, so per CPU second ≥ per second / 2
    expect(r.imagesPerCpuSecond).toBeGreaterThan(r.imagesPerSecond / 2)
  })
})
