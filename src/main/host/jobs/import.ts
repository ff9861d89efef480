/**
 * 'import': a dataset (npz, idx, image folder, CSV + images, DICOM) into the workspace cache
 * `datasets/<id>/` (engine/data/import.ts), recorded in the store with its classes, counts
 * and meta. Files that cannot be used are listed in the result (relative path + reason);
 * they never stop the import. Resumable: a rerun re-imports into the same dataset id (the
 * cache only appears once complete, so a crash never leaves a half cache marked ready).
 */
import { importParams } from '../../../shared/jobs'
import type { ImportResult } from '../../../shared/job-results'
import { defineJob } from './types'
import { errorText } from '../../../shared/errors'

export { importParams }

type State = { datasetId: string }

export const importJob = defineJob<'import', State>({
  kind: 'import',
  description: 'Import a dataset (MedMNIST .npz, idx, image folder, CSV + images, DICOM) into the workspace.',
  params: importParams,
  links: (p) => ({ datasetId: p.datasetId ?? null }),
  async run(ctx, p) {
    const { basename } = await import('node:path')
    const { importDataset } = await import('../../engine/data/import')
    const { chooseImporter } = await import('../../engine/data/importers')
    const name = p.name ?? basename(p.input).replace(/\.(npz|csv)$/i, '')
    // The store row records the importer actually used (its format cannot change later).
    const format = (await chooseImporter(p.input, p.format, p.csv)).name
    const id =
      ctx.state.get()?.datasetId ?? p.datasetId ?? ctx.store.datasets.create({ name, format, task: 'single' }).id
    ctx.state.set({ datasetId: id })
    ctx.store.datasets.update(id, { status: 'importing', error: null })
    const started = Date.now()
    try {
      const r = await importDataset(
        {
          input: p.input,
          csv: p.csv,
          name,
          format,
          size: p.size,
          channels: p.channels,
          split: p.split,
          seed: p.seed,
          uncertain: p.uncertain,
          columns: p.columns
        },
        {
          outDir: ctx.workspace.datasetDir(id),
          signal: ctx.signal,
          onProgress: (pr) => {
            const fraction = pr.total > 0 ? pr.done / pr.total : 0
            const elapsed = (Date.now() - started) / 1000
            ctx.progress({
              fraction: pr.phase === 'scan' ? 0 : fraction,
              phase: pr.phase === 'images' ? `images ${pr.done}/${pr.total}` : pr.phase,
              etaSeconds: fraction > 0.02 ? (elapsed * (1 - fraction)) / fraction : null
            })
          }
        }
      )
      const m = r.meta
      ctx.store.datasets.update(id, {
        name: m.name,
        task: m.task,
        status: 'ready',
        classes: m.classes,
        counts: m.counts,
        meta: m,
        error: null
      })
      if (r.failed > 0)
        ctx.log('warn', `${r.failed} input(s) could not be used; see the job result for each file and reason`)
      if (r.enlarged > 0)
        ctx.log(
          'warn',
          `${r.enlarged} image(s) smaller than ${m.size[0]} px were enlarged to ${m.size[0]} × ${m.size[1]} px${p.size === undefined ? ' (the size was set by the first image; choose one with --size)' : ''}`
        )
      ctx.log(
        'info',
        `images stored at ${m.size[0]} × ${m.size[1]} px${p.size === undefined ? " (the source's size, at most 224 px; --size changes it)" : ''}`
      )
      return {
        dataset: { id, name: m.name, classes: m.classes, counts: m.counts, perClass: m.perClass, size: m.size },
        imported: r.imported,
        failed: r.failed,
        errors: r.errors,
        enlarged: r.enlarged
      } satisfies ImportResult
    } catch (e) {
      const message = errorText(e)
      if (!ctx.signal.aborted) ctx.store.datasets.update(id, { status: 'failed', error: message })
      const errors = (e as { errors?: unknown }).errors
      if (Array.isArray(errors) && errors.length > 0)
        ctx.log(
          'error',
          `${message}: ${errors
            .slice(0, 20)
            .map((x: { file: string; reason: string }) => `${x.file}: ${x.reason}`)
            .join('; ')}`
        )
      throw e
    }
  }
})
