/** `datasets`, `runs`, `jobs`: listings of the workspace. */
import type { DatasetRecord, JobRecord, RunRecord } from '../../shared/records'
import type { App } from '../host/app'
import { intFlag, table, type CliCommand, type CliContext } from './types'

async function call<T>(ctx: CliContext, command: string, request: unknown): Promise<T> {
  return unwrap<T>(await ctx.app().dispatch(command, request, { emit: () => undefined, subscriptions: new Map() }))
}

/** The data of a Reply, or throws its error message (one line). */
export function unwrap<T>(reply: Awaited<ReturnType<App['dispatch']>>): T {
  if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code })
  return reply.data as T
}

const limitOption = intFlag('--limit <n>', 'at most this many (default 200)', 1)

export const datasetsCommand: CliCommand = {
  command: 'datasets',
  description: 'List the datasets of the workspace.',
  options: [limitOption],
  run: (ctx, _a, o) => call<DatasetRecord[]>(ctx, 'listDatasets', { limit: o.limit }),
  print: (r, out) =>
    table(
      (r as DatasetRecord[]).map((d) => ({
        ...d,
        counts: Object.entries(d.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        classes: d.classes.length
      })),
      ['id', 'name', 'format', 'task', 'status', 'classes', 'counts']
    ).forEach((l) => out(l))
}

export const runsCommand: CliCommand = {
  command: 'runs',
  description: 'List the runs of the workspace.',
  options: [limitOption, { flags: '--dataset <id>', description: 'only runs of this dataset' }],
  run: (ctx, _a, o) => call<RunRecord[]>(ctx, 'listRuns', { limit: o.limit, datasetId: o.dataset }),
  print: (r, out) =>
    table(
      (r as RunRecord[]).map((run) => ({ ...run })),
      ['id', 'name', 'datasetId', 'kind', 'status', 'createdAt']
    ).forEach((l) => out(l))
}

export const jobsCommand: CliCommand = {
  command: 'jobs',
  description: 'List the jobs of the workspace (newest first).',
  options: [
    limitOption,
    { flags: '--status <status>', description: 'queued, running, completed, failed or cancelled' }
  ],
  run: (ctx, _a, o) => call<JobRecord[]>(ctx, 'listJobs', { limit: o.limit, status: o.status }),
  print: (r, out) =>
    table(
      (r as JobRecord[]).map((j) => ({
        ...j,
        progress: `${Math.round(j.progress * 100)}%`,
        resumable: j.resumable ? 'yes' : '',
        error: j.error ?? ''
      })),
      ['id', 'kind', 'status', 'progress', 'phase', 'attempt', 'resumable', 'createdAt', 'error']
    ).forEach((l) => out(l))
}

export { call }
