/**
 * The worker pool reuses a worker for the next unit: a plan of dependent units runs in ONE
 * engine process, with the same weights, optimizer state and metrics as every unit run in this
 * process (runUnitHere) and as one fresh process per unit; a worker whose unit was cancelled is
 * not reused.
 */
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { readCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import { buildPlan, PLAN_DEFAULTS } from '../../../../src/main/engine/fission/plans'
import { processUnitRunner } from '../../../../src/main/engine/fission/pool'
import { runPlan, type PlanOutcome, type RunSetup } from '../../../../src/main/engine/fission/run'
import { tempDir, writeSyntheticCache } from './helpers'

describe('unit worker pool', () => {
  let dataset: string
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    dataset = writeSyntheticCache({ counts: { train: 32, val: 16, test: 16 } })
  })
  // linear probe → base → cyclic phase: three units, each starting from the previous one's checkpoint
  const plan = buildPlan({
    ...PLAN_DEFAULTS,
    kind: 'fgg',
    lrs: [3e-3],
    epochs: 2,
    fggEpochs: 2,
    cycle: 2,
    lpEpochs: 1,
    batchSize: 8,
    augs: ['heavy'],
    metric: 'acc'
  })
  const setup = (): RunSetup => ({
    runDir: tempDir(),
    dataset,
    arch: 'smallcnn',
    start: { kind: 'random', seed: 5 },
    plan
  })
  const weightsOf = async (s: RunSetup, out: PlanOutcome) =>
    Promise.all(
      out.members.map(async (m) => {
        const ck = await readCheckpoint(join(s.runDir, m.checkpoint))
        return {
          w: ck.weights.map((w) => Array.from(w.data)),
          v: [...(ck.optimizer?.moments.values() ?? [])].map((mv) => Array.from(mv.v))
        }
      })
    )

  it('runs dependent units in one reused worker with the same results as in-process and one process per unit', async () => {
    expect(plan.units).toHaveLength(3)
    const here = setup()
    const ref = await runPlan(here)
    expect(ref.status).toBe('done')

    const pooled = setup()
    const pids: number[] = []
    const runner = processUnitRunner({ backend: 'wasm', onSpawn: (_u, pid) => pids.push(pid) })
    const out = await runPlan(pooled, { runUnit: runner })
    runner.close()
    expect(out.status).toBe('done')
    expect(runner.started).toBe(1)
    expect(new Set(pids).size).toBe(1)
    expect(pids).toHaveLength(3)

    const fresh = setup()
    const single = processUnitRunner({ backend: 'wasm', reuse: false })
    const outFresh = await runPlan(fresh, { runUnit: single })
    expect(single.started).toBe(3)

    const a = await weightsOf(here, ref)
    expect(await weightsOf(pooled, out)).toEqual(a)
    expect(await weightsOf(fresh, outFresh)).toEqual(a)
    expect(out.members.map((m) => m.val)).toEqual(ref.members.map((m) => m.val))
    // CPU seconds by part: the steps take some, the parts add up to at most the process's CPU over the epochs
    for (const u of out.units) {
      const t = u.result.timing!
      expect(t.cpuParts!.train).toBeGreaterThan(0)
      expect(Object.values(t.cpuParts!).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(t.cpu + 1e-3)
    }
  }, 120_000)

  it('does not reuse a worker whose unit was cancelled', async () => {
    const s = setup()
    const ac = new AbortController()
    const runner = processUnitRunner({ backend: 'wasm' })
    const out = await runPlan(s, { runUnit: runner, signal: ac.signal, onStep: () => ac.abort() })
    expect(out.status).toBe('cancelled')
    const again = await runPlan(s, { runUnit: runner })
    runner.close()
    expect(again.status).toBe('done')
    expect(runner.started).toBe(2)
  }, 120_000)
})
