import { computed } from 'vue'
import type { ComputedRef } from 'vue'
import type { JobKindName, JobRecordOf } from '../../shared/job-results'
import { runOf, useJobsStore } from './stores/jobs'

/** The jobs of one kind working for one run, as the views that start them show them. */
export interface RunJobs<K extends JobKindName> {
  /** Every such job, newest first. */
  all: ComputedRef<JobRecordOf<K>[]>
  /** The newest one (running or not). */
  job: ComputedRef<JobRecordOf<K> | undefined>
  /** The newest finished one. */
  done: ComputedRef<JobRecordOf<K> | undefined>
  /** True while the newest one is queued or running. */
  busy: ComputedRef<boolean>
}

/** The jobs of `kind` for the run `runId()` names, their results typed as that kind's. */
export function useRunJobs<K extends JobKindName>(kind: K, runId: () => string | null | undefined): RunJobs<K> {
  const jobs = useJobsStore()
  const all = computed(() => jobs.ofKind(kind).filter((j) => runOf(j) === runId()))
  const job = computed(() => all.value[0])
  const done = computed(() => all.value.find((j) => j.status === 'completed'))
  const busy = computed(() => job.value?.status === 'running' || job.value?.status === 'queued')
  return { all, job, done, busy }
}
