// The working-set planner (engine/models/memory.ts): its arithmetic by hand, and end to end
// through the CLI: a fission run under a memory limit trains its batch in micro-batches with
// every engine process's peak resident memory (reported by the job) under the limit, and a
// limit that cannot hold one image is refused before any run exists.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { execFile } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import {
  GiB,
  MiB,
  defaultMemoryLimit,
  planMemory,
  splitBatch,
  type Footprint
} from '../../../../src/main/engine/models/memory'
import * as tf from '@tensorflow/tfjs'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { measureFootprint } from '../../../../src/main/engine/fission/footprint'
import { getArch } from '../../../../src/main/engine/models/index'
import { Store } from '../../../../src/main/store'
import { Workspace } from '../../../../src/main/workspace'
import { CLI, ROOT, cliJson } from '../../../fixtures/process'
import { writeSyntheticCache } from '../fission/helpers'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const fp = (over: Partial<Footprint> = {}): Footprint => ({
  version: 6,
  arch: 'resnet50',
  archOptions: {},
  inputShape: [224, 224, 3],
  measuredShape: [224, 224, 3],
  backend: 'wasm',
  method: 'wasm-heap',
  weightBytes: 100 * MiB,
  trainableBytes: 100 * MiB,
  trainFixedBytes: 600 * MiB,
  trainPerImageBytes: 500 * MiB,
  rssFixedBytes: 800 * MiB,
  rssPerImageBytes: 500 * MiB,
  checkpointBytes: 300 * MiB,
  evalFixedBytes: 100 * MiB,
  evalPerImageBytes: 10 * MiB,
  baseRssBytes: 200 * MiB,
  seconds: 1,
  ...over
})

describe('planMemory', () => {
  it('the largest micro-batch under the limit, balanced; the expected peak as the sum of its parts', () => {
    const input = 224 * 224 * 3 * 4
    // by hand: RSS fixed 800 + 2 × 128 input images + m × 500 × 1.1 + checkpoint copies 300 + 64 MiB slack
    const peak = (m: number, batch = 128) =>
      800 * MiB + 2 * batch * input + Math.ceil(m * 500 * MiB * 1.1) + 300 * MiB + 64 * MiB
    const p = planMemory(fp(), 128, 3.5 * GiB)
    expect(peak(4)).toBeLessThanOrEqual(3.5 * GiB)
    expect(peak(5)).toBeGreaterThan(3.5 * GiB)
    expect(p).toMatchObject({ fits: true, batchSize: 128, microBatch: 4, microBatches: 32, limitBytes: 3.5 * GiB })
    expect(p.expectedPeakBytes).toBe(peak(4))
    // a batch that fits whole: no accumulator, one pass
    const small = planMemory(fp(), 3, 4 * GiB)
    expect(small).toMatchObject({ microBatch: 3, microBatches: 1 })
    expect(small.expectedPeakBytes).toBe(peak(3, 3))
    // 10 images with room for 4 (3.5 GiB): balanced 4 + 3 + 3, not 4 + 4 + 2
    expect(planMemory(fp(), 10, 3.5 * GiB)).toMatchObject({ microBatch: 4, microBatches: 3 })
    expect(splitBatch(10, 4)).toEqual([4, 3, 3])
  })

  it('never above the wasm heap, whatever the limit; refuses with what to change when one image cannot fit', () => {
    // heap: fixed 600 + 147 input + 5 × 550 + 96 MiB growth step = 3,593 MiB ≤ 4 GiB − 64 MiB; 6 images: 4,143 MiB
    const big = planMemory(fp(), 128, 64 * GiB)
    expect(big).toMatchObject({ fits: true, microBatch: 5, microBatches: 26 })
    const huge = planMemory(
      fp({ inputShape: [512, 512, 3], trainPerImageBytes: 3 * GiB, rssPerImageBytes: 3 * GiB }),
      128,
      64 * GiB
    )
    expect(huge.fits).toBe(false)
    expect(huge.message).toMatch(
      /^resnet50 at 512×512×3 needs about \d\.\d\d GiB per engine process to train even one image at a time \(3\.00 GiB per image\), more than the wasm heap's 4\.00 GiB: import the data at a smaller size \(e\.g\. --size 256\), choose a smaller architecture \(--arch\), or raise the limit/
    )
    const tight = planMemory(fp(), 128, 1 * GiB)
    expect(tight.fits).toBe(false)
    expect(tight.message).toContain('more than the memory limit of 1.00 GiB')
    // off the wasm backend only the limit counts
    expect(planMemory(fp({ method: 'tf-profile' }), 128, 128 * GiB)).toMatchObject({ microBatch: 128, microBatches: 1 })
  })

  it("default limit: 75% of the machine's memory divided by the workers, at most 4 GiB", () => {
    expect(defaultMemoryLimit(2, 8 * GiB)).toBe(3 * GiB)
    expect(defaultMemoryLimit(4, 8 * GiB)).toBe(1.5 * GiB)
    expect(defaultMemoryLimit(2, 24 * GiB)).toBe(4 * GiB)
  })
})

describe('measureFootprint', () => {
  it('measures smallcnn at 32 px in this process: the heap holds at least weights, gradients and both AdamW moments; no tensor left behind', async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    const before = tf.memory().numTensors
    const fp = await measureFootprint({ arch: 'smallcnn', inputShape: [32, 32, 3], numClasses: 3 })
    expect(tf.memory().numTensors).toBe(before)
    const model = getArch('smallcnn').build({ inputShape: [32, 32, 3], numClasses: 3, seed: 0 })
    const params = model.countParams()
    model.dispose()
    expect(fp.weightBytes).toBe(params * 4)
    expect(fp.trainableBytes).toBeLessThanOrEqual(fp.weightBytes)
    expect(fp).toMatchObject({
      arch: 'smallcnn',
      inputShape: [32, 32, 3],
      measuredShape: [32, 32, 3],
      backend: 'wasm',
      method: 'wasm-heap'
    })
    expect(fp.trainFixedBytes).toBeGreaterThanOrEqual(fp.weightBytes + 3 * fp.trainableBytes)
    expect(fp.trainPerImageBytes).toBeGreaterThan(0)
    expect(fp.rssPerImageBytes).toBeGreaterThanOrEqual(fp.trainPerImageBytes)
    expect(fp.rssFixedBytes).toBeGreaterThan(fp.baseRssBytes)
    expect(fp.checkpointBytes).toBeGreaterThanOrEqual(3 * fp.weightBytes)
  })
})

interface Run {
  run: {
    id: string
    status: string
    units: { id: string; peakRssMiB: number; microBatch: number; microBatches: number }[]
    memory: {
      limitMiB: number
      expectedPeakMiB: number
      perImageMiB: number
      peakRssMiB: { job: number; units: Record<string, number> }
    }
  }
}

describe('fission under a memory limit (CLI, engine processes)', () => {
  it('trains resnet18 at 64 px, batch 24, in micro-batches with every engine process under the limit; refuses a limit that cannot hold one image', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ff-memory-'))
    dirs.push(ws)
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    const counts = { train: 24, val: 8, test: 8 }
    try {
      const src = writeSyntheticCache({ counts, size: 64, channels: 1, classes: 2, seed: 3 })
      dirs.push(src)
      cpSync(src, workspace.datasetDir('ds_64'), { recursive: true })
      store.datasets.create({
        id: 'ds_64',
        name: 'synthetic 64',
        format: 'synthetic',
        task: 'single',
        status: 'ready',
        classes: ['c0', 'c1'],
        counts,
        dir: 'datasets/ds_64'
      })
    } finally {
      store.close()
    }
    const args = [
      'fission',
      '--dataset',
      'ds_64',
      '--arch',
      'resnet18',
      '--plan',
      'grid',
      '--lrs',
      '1e-3',
      '--seeds',
      '0',
      '--augs',
      'none',
      '--epochs',
      '1',
      '--batch-size',
      '24',
      '--workers',
      '1'
    ]
    // 1. one image cannot fit in 100 MiB (an engine process alone takes more): refused before any run is recorded
    const refused = await promisify(execFile)(
      process.execPath,
      [CLI, '--workspace', ws, '--backend', 'wasm', ...args, '--memory-limit', '100'],
      { cwd: ROOT }
    ).catch((e: { stderr: string; code: number }) => e)
    expect((refused as { code: number }).code).not.toBe(0)
    expect((refused as { stderr: string }).stderr).toMatch(
      /resnet18 at 64×64×3 needs about \d+ MiB per engine process to train even one image at a time .*more than the memory limit of 100 MiB: import the data at a smaller size .*--arch.*--memory-limit/
    )
    const after = Store.open(join(ws, 'fissionfusion.db'))
    try {
      expect(after.runs.list({ limit: 10 })).toHaveLength(0)
    } finally {
      after.close()
    }
    // the footprint was measured once and cached in the workspace
    expect(existsSync(join(ws, 'cache', 'memory'))).toBe(true)

    // 2. a limit that holds a few images: micro-batches, peaks under it
    const limit = 900
    const r = (await cliJson(ws, 'wasm', [...args, '--memory-limit', `${limit}MiB`])) as Run
    expect(r.run.status).toBe('done')
    expect(r.run.memory.limitMiB).toBe(limit)
    expect(r.run.memory.expectedPeakMiB).toBeLessThanOrEqual(limit)
    const [unit] = r.run.units
    expect(unit.microBatches).toBeGreaterThan(1)
    expect(unit.microBatch).toBeLessThan(24)
    expect(unit.microBatch * unit.microBatches).toBeGreaterThanOrEqual(24)
    // the worker's own peak RSS, read by the worker (process.resourceUsage().maxRSS), and the job process's
    expect(unit.peakRssMiB).toBeGreaterThan(100)
    expect(unit.peakRssMiB).toBeLessThanOrEqual(limit)
    expect(r.run.memory.peakRssMiB.units[unit.id]).toBe(unit.peakRssMiB)
    expect(r.run.memory.peakRssMiB.job).toBeGreaterThan(50)
    expect(r.run.memory.peakRssMiB.job).toBeLessThanOrEqual(limit)
  }, 300_000)
})
