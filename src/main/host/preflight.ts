/**
 * Checks made before a job is recorded: every dataset, run and model a job names must be ready
 * (a failed import, a run still training or a damaged member cannot be picked), and no two jobs
 * may write the same run at once. A refusal is one sentence naming the thing and what to do;
 * no job row is created, so nothing needs cleaning up.
 */
import type { DatasetRecord, JobRecord, MemberRecord, RunRecord, SoupRecord } from '../../shared/records'
import type { Store } from '../store'

/** Why a dataset cannot be used yet, or undefined when it is ready. */
export function datasetNotReady(d: DatasetRecord): string | undefined {
  if (d.status === 'ready') return undefined
  if (d.status === 'failed')
    return `dataset ${d.id} (${d.name}) is not ready: its import failed (${d.error ?? 'no reason recorded'}); import it again`
  return `dataset ${d.id} (${d.name}) is not ready: it is still importing`
}

/**
 * Why a run's members cannot be fused yet, or undefined. A cancelled run fuses the members that
 * finished; a pending one (members recorded by hand or by an import) is left to the job, which
 * says when no member is trained.
 */
export function runNotReady(r: RunRecord, writer?: JobRecord, lastFission?: JobRecord): string | undefined {
  if (r.status === 'done' || r.status === 'cancelled' || (r.status === 'pending' && !writer)) return undefined
  const resume = lastFission ? `fissionfusion job resume ${lastFission.id}` : 'fissionfusion job list, then job resume'
  if (r.status === 'failed')
    return `run ${r.id} (${r.name}) is not ready: its training failed; resume it (${resume}) or start a new run`
  if (!writer && r.status === 'running')
    return `run ${r.id} (${r.name}) is not ready: its training was interrupted; resume it (${resume})`
  return `run ${r.id} (${r.name}) is not ready: it is ${r.status === 'running' ? 'still training' : 'not trained yet'}${writer ? ` (job ${writer.id})` : ''}`
}

/** Why a member or soup cannot be used as a model, or undefined. */
export function modelNotReady(m: MemberRecord | SoupRecord, what: 'member' | 'soup'): string | undefined {
  if (m.status === 'done' && m.checkpointPath) return undefined
  const damaged = m.status === 'failed' && m.checkpointPath ? ' (its weights file may be damaged)' : ''
  return `${what} ${m.id} (${m.name}) is not ready: its status is ${m.status}${damaged}${m.checkpointPath ? '' : ' and it has no weights'}`
}

/** Job kinds that write a run's files and rows: at most one of them per run at a time. */
const RUN_WRITERS = new Set(['fission', 'fuse'])

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function needDataset(store: Store, id: string, field: string): string | undefined {
  const d = store.datasets.get(id)
  if (!d) return `${field}: dataset ${id} not found`
  return datasetNotReady(d)
}

function needModel(store: Store, id: string, field: string): string | undefined {
  const soup = store.soups.get(id)
  if (soup) return modelNotReady(soup, 'soup')
  const member = store.runs.getMember(id)
  if (member) return modelNotReady(member, 'member')
  return field === 'from' ? undefined : `${field}: no member or soup with id ${id}` // --from may also be a folder
}

/**
 * The reason a job of `kind` with (validated) `params` must not start now, or undefined.
 * `runId` is the run it writes, when known (its `links`).
 */
export function preflight(
  store: Store,
  kind: string,
  params: Record<string, unknown>,
  runId?: string | null
): string | undefined {
  if (runId && RUN_WRITERS.has(kind)) {
    const busy = store.jobs.unfinished().find((j) => j.runId === runId && RUN_WRITERS.has(j.kind))
    if (busy)
      return `run ${runId} is being written by job ${busy.id} (${busy.kind}, ${busy.status}); wait for it or cancel it (fissionfusion job cancel ${busy.id})`
  }
  if (kind === 'fuse') {
    const id = str(params.runId)
    const run = id ? store.runs.get(id) : undefined
    if (id && !run) return `run ${id} not found`
    if (run) {
      const writer = store.jobs.unfinished().find((j) => j.runId === run.id)
      const lastFission = store.jobs.list({ limit: 1000 }).find((j) => j.runId === run.id && j.kind === 'fission')
      const reason = runNotReady(run, writer, lastFission)
      if (reason) return reason
      const ds = store.datasets.get(run.datasetId)
      if (ds && datasetNotReady(ds)) return `the dataset of run ${run.id}: ${datasetNotReady(ds)}`
    }
    for (const o of Array.isArray(params.ood) ? params.ood : []) {
      const reason = typeof o === 'string' ? needDataset(store, o, '--ood') : undefined
      if (reason) return reason
    }
  }
  if (kind === 'fission') {
    const ds = str(params.datasetId)
    if (ds) {
      const reason = needDataset(store, ds, '--dataset')
      if (reason) return reason
    }
    const from = str(params.from)
    if (from && from !== 'random') {
      const reason = needModel(store, from, 'from')
      if (reason) return `--from: ${reason}`
    }
  }
  if (kind === 'export') {
    const id = str(params.modelId)
    if (id) return needModel(store, id, '--model')
  }
  return undefined
}
