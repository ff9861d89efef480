import { computed } from 'vue'
import type { ComputedRef } from 'vue'
import type { JobRecord } from '../../shared/api'
import { runOf, useJobsStore } from './stores/jobs'

/** The jobs of one kind working for one run, as the views that start them show them. */
export interface RunJobs {
  /** Every such job, newest first. */
  all: ComputedRef<JobRecord[]>
  /** The newest one (running or not). */
  job: ComputedRef<JobRecord | undefined>
  /** The newest finished one. */
  done: ComputedRef<JobRecord | undefined>
  /** True while the newest one is queued or running. */
  busy: ComputedRef<boolean>
}

/** The jobs of `kind` for the run `runId()` names. */
export function useRunJobs(kind: string, runId: () => string | null | undefined): RunJobs {
  const jobs = useJobsStore()
  const all = computed(() => jobs.ofKind(kind).filter((j) => runOf(j) === runId()))
  const job = computed(() => all.value[0])
  const done = computed(() => all.value.find((j) => j.status === 'completed'))
  const busy = computed(() => job.value?.status === 'running' || job.value?.status === 'queued')
  return { all, job, done, busy }
}
