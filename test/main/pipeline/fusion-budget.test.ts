/** The pipeline's fusion budget: the corruption suite's default cap, how it is reported, and `bench pipeline`'s figures. */
import { describe, expect, it } from 'vitest'
import { PIPELINE_CORRUPTION_IMAGES, pipelineParams } from '../../../src/shared/jobs'
import { fusionLines, planParams } from '../../../src/main/commands/pipeline'
import { pipelineFigures } from '../../../src/main/commands/bench-pipeline'
import type { PipelineResult } from '../../../src/shared/job-results'

const data = { kind: 'import', source: { input: '/data/pneumoniamnist.npz', size: 64 } } as const

describe('pipeline fusion budget', () => {
  it('caps the corruption suite at a seeded subset and leaves the ensemble out by default; flags override', () => {
    const p = pipelineParams.parse({ data })
    expect(PIPELINE_CORRUPTION_IMAGES).toBe(32)
    expect(p.corruptionImages).toBe(32)
    expect(p.corruptionEnsemble).toBe(false)
    const all = pipelineParams.parse({ data, ...planParams({ corruptionImages: 0, corruptionEnsemble: true }) })
    expect([all.corruptionImages, all.corruptionEnsemble]).toEqual([0, true])
    expect(() => pipelineParams.parse({ data, corruptionImages: -1 })).toThrow()
  })

  it("says what the suite ran on and each run's fusion time against its training", () => {
    const lines = fusionLines({
      fusion: {
        grid: {
          trainingSeconds: 400,
          fuseSeconds: 80,
          ratio: 0.2,
          parts: { load: 10, val: 20, suite: 0.01, total: 79 },
          corruptionSuite: { images: 100, of: 624, seed: 0, ensemble: false }
        },
        fgg: {
          trainingSeconds: 100,
          fuseSeconds: 30,
          ratio: 0.3,
          parts: null,
          corruptionSuite: { images: 400, of: 400, seed: 0, ensemble: true }
        }
      }
    })
    expect(lines).toEqual([
      '  corrupt. (grid): on 100 of 624 test images (a subset drawn with seed 0; --corruption-images 0 for all); the ensemble is not run on it (--corruption-ensemble)',
      '  corrupt. (fgg): on all of 400 test images',
      '  fusion of the grid run: 80 s = 20.0% of its training (400 s); load 10.0, val 20.0',
      '  fusion of the fgg run: 30 s = 30.0% of its training (100 s)'
    ])
  })

  it('bench pipeline: fusion / training per run from the stage seconds, and whether the Bar holds', () => {
    const result = {
      jobId: 'job_x',
      workspace: '/ws',
      backend: 'wasm',
      engine: 'wasm + native kernels',
      stages: { data: 1, pretrain: 50, grid: 400, fgg: 120, 'fuse-grid': 90, 'fuse-fgg': 31, export: 2 },
      members: [{ plan: 'grid' }, { plan: 'grid' }, { plan: 'fgg' }],
      fusion: {
        grid: { trainingSeconds: 400, fuseSeconds: 90, ratio: 0.225, parts: { test: 40 }, corruptionSuite: null }
      }
    } as unknown as PipelineResult & { jobId: string; workspace: string }
    const f = pipelineFigures(result, 0.25)
    expect(f.runs.map((r) => [r.plan, r.members, r.trainingSeconds, r.fuseSeconds])).toEqual([
      ['grid', 2, 400, 90],
      ['fgg', 1, 120, 31]
    ])
    expect(f.runs[0].ratio).toBeCloseTo(0.225, 12)
    expect(f.runs[1].ratio).toBeCloseTo(31 / 120, 12)
    expect(f.runs[0].parts).toEqual({ test: 40 })
    expect(f.runs[1].parts).toBeNull()
    expect(f.holds).toBe(false)
    expect(pipelineFigures(result, 0.26).holds).toBe(true)
    expect(f.backend).toBe('wasm + native kernels')
  })
})
