/**
 * 'inspect': what an import of a file or folder would see (engine/data/inspect.ts), run in an
 * engine process because reading a large archive or folder can take seconds. The
 * `inspectDataset` command starts it and answers its result; not resumable (cheap to redo).
 */
import { inspectParams } from '../../../shared/jobs'
import type { DatasetInspection } from '../../../shared/job-results'
import { defineJob } from './types'

export { inspectParams }

export const inspectJob = defineJob<'inspect'>({
  kind: 'inspect',
  description:
    'Reads a file or folder as the importers would (format, CSV columns, classes, counts) without importing it.',
  params: inspectParams,
  resumable: false,
  async run(_ctx, p) {
    const { inspectSource } = await import('../../engine/data/inspect')
    return JSON.parse(JSON.stringify(await inspectSource(p))) as DatasetInspection
  }
})
