/** Small, complete records for renderer tests. */
import type { DatasetRecord, JobRecord, MemberRecord, SoupIngredientRecord, SoupRecord } from '../../src/shared/api'

const at = '2026-11-27T01:00:00.000Z'

export function dataset(over: Partial<DatasetRecord> = {}): DatasetRecord {
  return {
    id: 'ds_1',
    name: 'pneumonia',
    format: 'npz',
    task: 'single',
    status: 'ready',
    classes: ['normal', 'pneumonia'],
    counts: { train: 40, val: 10, test: 12 },
    meta: {
      size: [28, 28],
      channels: 1,
      perClass: {
        train: { normal: 12, pneumonia: 28 },
        val: { normal: 3, pneumonia: 7 },
        test: { normal: 5, pneumonia: 7 }
      }
    },
    dir: 'datasets/ds_1',
    error: null,
    createdAt: at,
    updatedAt: at,
    ...over
  }
}

export function job(over: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 'job_1',
    kind: 'selftest',
    status: 'queued',
    params: {},
    progress: 0,
    phase: null,
    etaSeconds: null,
    resumable: true,
    attempt: 1,
    state: null,
    result: null,
    error: null,
    exitReason: null,
    runId: null,
    datasetId: null,
    createdAt: at,
    startedAt: null,
    finishedAt: null,
    ...over
  }
}

export function member(over: Partial<MemberRecord> = {}): MemberRecord {
  return {
    id: 'mem_1',
    runId: 'run_1',
    name: 'lr1e-3 base',
    parentId: null,
    groupKey: '0.001',
    hyperparams: { lr: 1e-3, seed: 1 },
    epochs: 5,
    wallSeconds: 62,
    backend: 'wasm',
    checkpointPath: 'runs/run_1/members/mem_1',
    status: 'done',
    valScore: 0.8,
    createdAt: at,
    updatedAt: at,
    ...over
  }
}

export function soup(over: Partial<SoupRecord> = {}): SoupRecord {
  return {
    id: 'soup_1',
    runId: 'run_1',
    name: 'greedy',
    method: 'greedy',
    groupBy: null,
    groupKey: null,
    selectionMetric: 'accuracy',
    valScore: 0.9,
    checkpointPath: 'runs/run_1/soups/soup_1',
    wallSeconds: 3,
    backend: 'wasm',
    status: 'done',
    config: {},
    createdAt: at,
    ...over
  }
}

export function ingredient(over: Partial<SoupIngredientRecord> = {}): SoupIngredientRecord {
  return {
    soupId: 'soup_1',
    position: 0,
    memberId: 'mem_1',
    childSoupId: null,
    weight: 1,
    kept: true,
    stepScore: 0.8,
    ...over
  }
}
