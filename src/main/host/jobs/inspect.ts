/**
 * 'inspect': what an import of a file or folder would see (engine/data/inspect.ts), run in an
 * engine process because reading a large archive or folder can take seconds. The
 * `inspectDataset` command starts it and answers its result; not resumable (cheap to redo).
 */
import { isAbsolute } from 'node:path'
import { z } from 'zod'
import type { Json } from '../../../shared/records'
import { defineJob } from './types'

const absolute = z.string().min(1).refine((p) => isAbsolute(p), 'must be an absolute path')

/** Params of an inspect job (those of an import that decide what is read). */
export const inspectParams = z.object({
  input: absolute,
  csv: absolute.optional(),
  format: z.enum(['auto', 'npz', 'idx', 'folder', 'csv', 'dicom']).default('auto'),
  columns: z.object({
    path: z.string().min(1).optional(),
    label: z.string().min(1).optional(),
    labels: z.array(z.string().min(1)).min(2).optional(),
    split: z.string().min(1).optional(),
    group: z.string().min(1).optional()
  }).strict().optional()
}).strict()

export const inspectJob = defineJob<typeof inspectParams>({
  kind: 'inspect',
  description: 'Reads a file or folder as the importers would (format, CSV columns, classes, counts) without importing it.',
  params: inspectParams,
  resumable: false,
  async run(_ctx, p) {
    const { inspectSource } = await import('../../engine/data/inspect')
    return JSON.parse(JSON.stringify(await inspectSource(p))) as Json
  }
})
