/** `job run <kind>`, `job resume <id>`, `job cancel <id>`: jobs from the command line, with progress. */
import type { JobRecord } from '../../shared/records'
import { call } from './lists'
import type { CliCommand } from './types'

function parseParams(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new Error(`--params is not valid JSON: ${(e as Error).message}`)
  }
}

function printJob(result: unknown, out: (line: string) => void): void {
  const j = result as JobRecord
  out(
    `job ${j.id} (${j.kind}) ${j.status}${j.error ? `: ${j.error}` : ''}${j.resumable ? ` — resumable: fissionfusion job resume ${j.id}` : ''}`
  )
  if (j.status === 'completed') out(`result: ${JSON.stringify(j.result)}`)
}

function failIfNotCompleted(j: JobRecord): JobRecord {
  if (j.status !== 'completed') process.exitCode = 1
  return j
}

export const jobRunCommand: CliCommand = {
  command: 'job run <kind>',
  description: 'Run a job in an engine process and wait for it (Ctrl-C cancels; it can be resumed).',
  options: [{ flags: '--params <json>', description: 'job parameters as JSON', default: '{}' }],
  run: async (ctx, [kind], o) => failIfNotCompleted(await ctx.runJob(kind, parseParams(String(o.params)))),
  print: printJob
}

export const jobResumeCommand: CliCommand = {
  command: 'job resume <id>',
  description: 'Resume a failed or cancelled job from its last checkpoint and wait for it.',
  run: async (ctx, [id]) => failIfNotCompleted(await ctx.runJob('', null, { resumeId: id })),
  print: printJob
}

export const jobCancelCommand: CliCommand = {
  command: 'job cancel <id>',
  description: 'Ask a running job to stop.',
  run: (ctx, [id]) => call<JobRecord>(ctx, 'cancelJob', { id }),
  print: printJob
}

export const jobKindsCommand: CliCommand = {
  command: 'job kinds',
  description: 'List the job kinds.',
  run: (ctx) => call(ctx, 'listJobKinds', {}),
  print: (r, out) =>
    (r as Array<{ kind: string; description: string }>).forEach((k) => out(`${k.kind.padEnd(16)} ${k.description}`))
}
