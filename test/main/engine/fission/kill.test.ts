import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { readCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import { buildPlan, PLAN_DEFAULTS } from '../../../../src/main/engine/fission/plans'
import { processUnitRunner } from '../../../../src/main/engine/fission/pool'
import { runPlan, type RunSetup } from '../../../../src/main/engine/fission/run'
import { tempDir, writeSyntheticCache } from './helpers'

describe('a unit worker killed with SIGKILL mid-epoch', () => {
  let dataset: string
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 1 })
    dataset = writeSyntheticCache({ counts: { train: 64, val: 16, test: 16 } })
  })

  it('resumes from its last epoch and ends with the same weights as an uninterrupted run', async () => {
    const plan = buildPlan({
      ...PLAN_DEFAULTS,
      kind: 'grid',
      lrs: [3e-3],
      seeds: [0],
      augs: ['heavy'],
      epochs: 3,
      batchSize: 8
    })
    const setup = (): RunSetup => ({
      runDir: tempDir(),
      dataset,
      arch: 'smallcnn',
      start: { kind: 'random', seed: 5 },
      plan
    })
    const member = 'grid/grid-lr3e-3-s0-heavy'

    const straight = setup()
    const ref = await runPlan(straight, { runUnit: processUnitRunner({ backend: 'wasm' }) })
    expect(ref.status).toBe('done')

    const killed = setup()
    let pid = 0
    let killedAt = ''
    const runner = processUnitRunner({
      backend: 'wasm',
      onSpawn: (_u, p) => {
        pid = p
      }
    })
    await expect(
      runPlan(killed, {
        runUnit: runner,
        onStep: (_u, p) => {
          if (!killedAt && p.epoch === 2 && p.iteration === 3) {
            killedAt = `${p.epoch}.${p.iteration}`
            process.kill(pid, 'SIGKILL')
          }
        }
      })
    ).rejects.toThrow(/worker killed by SIGKILL; run the plan again to resume it/)
    expect(killedAt).toBe('2.3')
    expect(existsSync(join(killed.runDir, member, 'result.json'))).toBe(false)
    const partial = await readCheckpoint(join(killed.runDir, member, 'state'))
    expect(partial.meta.trainer!.epoch).toBeLessThan(3)

    const resumed = await runPlan(killed, { runUnit: processUnitRunner({ backend: 'wasm' }) })
    expect(resumed.status).toBe('done')
    for (const which of ['state', 'best']) {
      const a = await readCheckpoint(join(straight.runDir, member, which))
      const b = await readCheckpoint(join(killed.runDir, member, which))
      expect(b.weights.map((w) => Array.from(w.data))).toEqual(a.weights.map((w) => Array.from(w.data)))
      expect([...b.optimizer!.moments.values()].map((m) => Array.from(m.v))).toEqual(
        [...a.optimizer!.moments.values()].map((m) => Array.from(m.v))
      )
    }
    expect(resumed.members.map((m) => m.val)).toEqual(ref.members.map((m) => m.val))
  })
})
