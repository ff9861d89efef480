/**
 * Job kinds are typed end to end: `startJob` takes each kind's params (its shared schema's input)
 * and answers a record whose result has the kind's result type; the host's registry uses the
 * very schemas of src/shared/jobs.ts. The expectTypeOf lines are checked by
 * `tsc -p tsconfig.node.json` (test files are part of it); the rest runs.
 */
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { Api, JobRecord } from '../../src/shared/api'
import {
  resultOf,
  type CompareResult,
  type ExportResult,
  type FuseResult,
  type JobRecordOf,
  type JobResults,
  type PlaneResult
} from '../../src/shared/job-results'
import {
  JOB_KIND_IDS,
  jobParamSchemas,
  type JobKindId,
  type JobParams,
  type StartJobRequest
} from '../../src/shared/jobs'
import { jobKinds } from '../../src/main/host/jobs'

const record = (kind: string, status: JobRecord['status'], result: JobRecord['result']): JobRecord => ({
  id: 'job_1',
  kind,
  status,
  params: {},
  progress: 1,
  phase: null,
  etaSeconds: null,
  resumable: false,
  attempt: 1,
  state: null,
  result,
  error: null,
  exitReason: null,
  runId: null,
  datasetId: null,
  createdAt: '',
  startedAt: null,
  finishedAt: null
})

describe('typed jobs', () => {
  it("startJob answers the kind's typed record (type test)", () => {
    type Start = Api['startJob']
    expectTypeOf<ReturnType<typeof fuse>>().toEqualTypeOf<Promise<JobRecordOf<'fuse'>>>()
    expectTypeOf<JobRecordOf<'fuse'>['result']>().toEqualTypeOf<FuseResult | null>()
    expectTypeOf<JobRecordOf<'compare'>['result']>().toEqualTypeOf<CompareResult | null>()
    expectTypeOf<JobRecordOf<'export'>['kind']>().toEqualTypeOf<'export'>()
    // every kind with params has a result type, and the other way round
    expectTypeOf<JobKindId>().toEqualTypeOf<keyof JobResults>()
    // a kind's params are its schema's; wrong ones do not compile
    const ok: StartJobRequest = { kind: 'fuse', params: { runId: 'run_1', methods: ['gog', 'hier:ties/greedy'] } }
    // @ts-expect-error -- runId is required
    const missing: StartJobRequest = { kind: 'fuse', params: { methods: ['gog'] } }
    // @ts-expect-error -- steps is a number
    const wrong: StartJobRequest = { kind: 'selftest', params: { steps: 'many' } }
    // @ts-expect-error -- not a job kind
    const unknown: StartJobRequest = { kind: 'nope', params: {} }
    expectTypeOf<JobParams<'fission'>['metric']>().toEqualTypeOf<
      'acc' | 'f1' | 'recall' | 'kappa' | 'auc' | undefined
    >()
    function fuse(start: Start) {
      return start({ kind: 'fuse', params: { runId: 'run_1' } })
    }
    expect([ok, missing, wrong, unknown].map((r) => r.kind)).toEqual(['fuse', 'fuse', 'selftest', 'nope'])
    expect(typeof fuse).toBe('function')
  })

  it('resultOf answers the result of a completed job of that kind only, typed', () => {
    const plane = {
      datasetId: 'ds',
      runId: 'run',
      split: 'val',
      backend: 'cpu',
      gridSize: 2,
      margin: 0,
      models: [],
      xs: [],
      ys: [],
      grid: [],
      soups: []
    }
    const done = record('plane', 'completed', plane)
    const r = resultOf(done, 'plane')
    expectTypeOf(r).toEqualTypeOf<PlaneResult | null>()
    expect(r).toEqual(plane)
    expect(resultOf(done, 'export')).toBeNull()
    expectTypeOf(resultOf(done, 'export')).toEqualTypeOf<ExportResult | null>()
    expect(resultOf(record('plane', 'running', null), 'plane')).toBeNull()
    expect(resultOf(undefined, 'plane')).toBeNull()
  })

  it('the host registry lists exactly the shared kinds, each with its shared params schema', () => {
    expect(jobKinds.map((k) => k.kind).sort()).toEqual([...JOB_KIND_IDS].sort())
    for (const k of jobKinds) expect(k.params).toBe(jobParamSchemas[k.kind as JobKindId])
  })

  it("the pipeline takes the fission job's plan settings with the fission job's rules", () => {
    const shared = [
      'arch',
      'width',
      'metric',
      'lpEpochs',
      'lrs',
      'seeds',
      'augs',
      'epochs',
      'fggEpochs',
      'cycle',
      'a1',
      'a2',
      'batchSize',
      'workers',
      'slurm'
    ] as const
    for (const key of shared) expect(jobParamSchemas.pipeline.shape[key]).toBe(jobParamSchemas.fission.shape[key])
    const bad = jobParamSchemas.pipeline.safeParse({
      data: {
        kind: 'synthetic',
        counts: { train: 1, val: 1, test: 1 },
        oodCounts: { train: 1, val: 1, test: 1 },
        seed: 0
      },
      cycle: 1
    })
    expect(bad.success).toBe(false)
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['cycle'])
  })
})
