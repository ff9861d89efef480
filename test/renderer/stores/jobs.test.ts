// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createTestingPinia } from '@pinia/testing'
import { ApiCallError } from '../../../src/shared/api'
import type { JobEvent } from '../../../src/shared/api'
import { setApi } from '../../../src/renderer/src/api'
import { useJobsStore } from '../../../src/renderer/src/stores/jobs'
import { fakeApi } from '../fake-api'
import type { FakeApi } from '../fake-api'
import { job } from '../records'

const at = '2026-11-27T01:00:05.000Z'
let fake: FakeApi

beforeEach(() => {
  createTestingPinia({ stubActions: false, createSpy: vi.fn })
  fake = fakeApi({
    listJobs: () => [job()],
    getJob: ({ id }) => job({ id: String(id), status: 'completed', progress: 1, result: { n: 3 } }),
    subscribeJobs: () => ({
      backlog: [{ seq: 1, jobId: 'job_1', at, type: 'started', attempt: 1 } satisfies JobEvent]
    }),
    startJob: ({ kind }) => {
      if (kind === 'nope') throw new ApiCallError({ code: 'invalid_request', message: "unknown job kind 'nope'" })
      return job({ id: 'job_2', kind: String(kind) })
    }
  })
  setApi(fake.api)
})

describe('jobs store', () => {
  it('loads jobs, subscribes, and applies the backlog', async () => {
    const jobs = useJobsStore()
    await jobs.connect()
    expect(fake.calls.map((c) => c.command)).toEqual(['listJobs', 'subscribeJobs'])
    expect(jobs.jobs.job_1.status).toBe('running')
  })

  it('follows live progress, ignores a repeated event, and keeps the history', async () => {
    const jobs = useJobsStore()
    await jobs.connect()
    const progress: JobEvent = {
      seq: 2,
      jobId: 'job_1',
      at,
      type: 'progress',
      progress: { fraction: 0.25, phase: 'epoch 1/4', etaSeconds: 30, metrics: { val_loss: 0.6 } }
    }
    fake.emit('jobEvent', progress)
    fake.emit('jobEvent', progress)
    fake.emit('jobEvent', { ...progress, seq: 3, progress: { fraction: 0.5, phase: 'epoch 2/4', etaSeconds: 20 } })
    expect(jobs.jobs.job_1).toMatchObject({ progress: 0.5, phase: 'epoch 2/4', etaSeconds: 20 })
    expect(jobs.progress.job_1.map((p) => p.fraction)).toEqual([0.25, 0.5])
    expect(jobs.progress.job_1[0].metrics).toEqual({ val_loss: 0.6 })
  })

  it('marks failures as resumable with the reason, then re-reads the record', async () => {
    const jobs = useJobsStore()
    await jobs.connect()
    fake.emit('jobEvent', {
      seq: 5,
      jobId: 'job_1',
      at,
      type: 'failed',
      error: 'out of memory',
      resumable: true,
      exitReason: 'killed by SIGKILL'
    })
    expect(jobs.jobs.job_1).toMatchObject({
      status: 'failed',
      error: 'out of memory',
      resumable: true,
      exitReason: 'killed by SIGKILL'
    })
    await vi.waitFor(() => expect(fake.calls.some((c) => c.command === 'getJob')).toBe(true))
  })

  it('starts a job, and shows a refused start as an error in words', async () => {
    const jobs = useJobsStore()
    expect((await jobs.start('selftest', { steps: 2 }))?.id).toBe('job_2')
    expect(fake.calls.at(-1)).toEqual({ command: 'startJob', request: { kind: 'selftest', params: { steps: 2 } } })
    // @ts-expect-error -- not a job kind: the types refuse it, and so does the host at run time
    expect(await jobs.start('nope', {})).toBeNull()
    expect(jobs.error?.message).toBe("Starting the job failed: unknown job kind 'nope'")
    expect(jobs.ofKind('selftest').map((j) => j.id)).toEqual(['job_2'])
  })
})
