/** `show <id>`: one record of any kind, found by its id prefix (ds_, run_, mem_, soup_, job_). */
import { call } from './lists'
import type { CliCommand } from './types'

const BY_PREFIX: Array<[string, string]> = [
  ['ds_', 'getDataset'],
  ['run_', 'getRun'],
  ['mem_', 'getMember'],
  ['soup_', 'getSoup'],
  ['job_', 'getJob']
]

export const showCommand: CliCommand = {
  command: 'show <id>',
  description: 'Show a dataset, run, member, soup or job by id.',
  async run(ctx, [id]) {
    const match = BY_PREFIX.find(([prefix]) => id.startsWith(prefix))
    if (!match)
      throw new Error(
        `'${id}' is not an id this workspace uses (ids start with ${BY_PREFIX.map(([p]) => p).join(', ')})`
      )
    const record = await call<Record<string, unknown>>(ctx, match[1], { id })
    if (match[1] === 'getMember') return { member: record, metrics: await call(ctx, 'listMetrics', { memberId: id }) }
    if (match[1] === 'getJob')
      return {
        job: record,
        events: ctx
          .app()
          .store.jobs.events({ jobId: id })
          .filter((e) => e.type !== 'progress')
      }
    return record
  }
}
