/**
 * The registry of job kinds: every kind the app can run, listed once.
 *
 * To add a kind: write `src/main/host/jobs/<name>.ts` exporting `defineJob({ kind, description,
 * params: zodSchema, run: async (ctx, params) => result })` (import engine code inside `run`
 * with `await import(...)`), then add it to `jobKinds` below. It is then startable through the
 * contract (`startJob({ kind, params })`), the CLI and the UI, with cancel and resume.
 */
import { compareJob } from './compare'
import { exportJob } from './export'
import { fissionJob } from './fission'
import { fuseJob } from './fuse'
import { importJob } from './import'
import { inspectJob } from './inspect'
import { importWeightsJob } from './models'
import { interpolateJob } from './interpolate'
import { planeJob } from './plane'
import { pipelineJob } from './pipeline'
import { predictJob } from './predict'
import { probeJob } from './probe'
import { selftestJob } from './selftest'
import type { JobKind } from './types'

export type { JobContext, JobKind, JobState } from './types'
export { defineJob } from './types'

/** All job kinds. */
export const jobKinds: readonly JobKind[] = [
  selftestJob,
  importJob,
  fissionJob,
  fuseJob,
  exportJob,
  pipelineJob,
  compareJob,
  inspectJob,
  probeJob,
  importWeightsJob,
  predictJob,
  interpolateJob,
  planeJob
]

/** The kind named `kind`, or undefined. */
export function findJobKind(kind: string, kinds: readonly JobKind[] = jobKinds): JobKind | undefined {
  return kinds.find((k) => k.kind === kind)
}
