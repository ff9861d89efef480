/**
 * `import <path>`: imports a dataset into the workspace as an 'import' job (progress, Ctrl-C
 * cancel, resume). --json prints `{ dataset: { id, name, classes, counts, perClass },
 * imported, failed, errors: [{ file, reason }] }`; files that could not be used do not make
 * the command fail (exit 0), only an input that is unusable as a whole does.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { intFlag, oneOf, type CliCommand } from './types'

interface ImportResultJson {
  dataset: {
    id: string
    name: string
    classes: string[]
    counts: Record<string, number>
    perClass: Record<string, Record<string, number>>
  }
  imported: number
  failed: number
  errors: { file: string; reason: string }[]
}

const FORMATS = ['auto', 'npz', 'idx', 'folder', 'csv', 'dicom']

export const importCommand: CliCommand = {
  command: 'import <path>',
  description: 'Import a dataset (MedMNIST .npz, idx, image folder, CSV + images, DICOM) into the workspace.',
  options: [
    { flags: '--csv <file>', description: 'CSV manifest naming the images below <path>' },
    { flags: '--name <name>', description: "dataset name (default: the input's name)" },
    {
      flags: '--format <f>',
      description: `importer: ${FORMATS.join('|')} (default auto: by content)`,
      parse: oneOf('--format', FORMATS)
    },
    intFlag(
      '--size <px>',
      "square side after resizing (default: the source's own, reduced to 224 when larger; never enlarged)",
      8
    ),
    {
      flags: '--channels <c>',
      description: 'keep (default) or 3 (gray repeated for ImageNet-style backbones)',
      parse: (v) => (oneOf('--channels', ['keep', '3'])(v) === '3' ? 3 : 'keep')
    },
    { flags: '--split <a/b/c>', description: 'train/val/test shares when the dataset has no split (default 70/10/20)' },
    intFlag('--seed <n>', 'seed of a generated split (default 0)'),
    {
      flags: '--uncertain <policy>',
      description: 'CheXpert -1 labels: ones, zeros or ignore (default, masked)',
      parse: oneOf('--uncertain', ['ones', 'zeros', 'ignore'])
    },
    { flags: '--path-column <name>', description: 'CSV column naming each image (default: auto-detected)' },
    { flags: '--label-column <name>', description: 'CSV class column (names or integers)' },
    {
      flags: '--label-columns <list>',
      description: 'comma list of one-hot or multi-label CSV columns',
      parse: (v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
    },
    { flags: '--split-column <name>', description: 'CSV column with train / val / test' },
    { flags: '--group-column <name>', description: 'CSV patient / lesion id column (its images never straddle splits)' }
  ],
  async run(ctx, args, o) {
    const columns = Object.fromEntries(
      Object.entries({
        path: o.pathColumn,
        label: o.labelColumn,
        labels: o.labelColumns,
        split: o.splitColumn,
        group: o.groupColumn
      }).filter(([, v]) => v !== undefined)
    )
    const params = Object.fromEntries(
      Object.entries({
        input: resolve(args[0]),
        csv: o.csv ? resolve(String(o.csv)) : undefined,
        name: o.name,
        format: o.format,
        size: o.size,
        channels: o.channels,
        split: o.split,
        seed: o.seed,
        uncertain: o.uncertain,
        columns: Object.keys(columns).length > 0 ? columns : undefined
      }).filter(([, v]) => v !== undefined)
    )
    // Refused before any job exists: a typo in a path is not a failed import.
    for (const [flag, path] of [
      ['<path>', params.input],
      ['--csv', params.csv]
    ] as const) {
      if (typeof path === 'string' && !existsSync(path))
        throw Object.assign(
          new Error(`${flag === '<path>' ? args[0] : `--csv ${String(o.csv)}`}: no such file or folder`),
          { code: 'not_found' }
        )
    }
    const job: JobRecord = await ctx.runJob('import', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(
        `import job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ` (resume: fissionfusion job resume ${job.id})` : ''}`
      )
    }
    return job.result
  },
  print(result, out) {
    const r = result as ImportResultJson
    const d = r.dataset
    out(
      `dataset ${d.id} "${d.name}": ${d.classes.length} classes, train ${d.counts.train} / val ${d.counts.val} / test ${d.counts.test}`
    )
    out(`imported ${r.imported} image(s); ${r.failed} input(s) could not be used`)
    for (const e of r.errors.slice(0, 50)) out(`  ${e.file}: ${e.reason}`)
    if (r.errors.length > 50) out(`  ... and ${r.errors.length - 50} more (--json lists all)`)
  }
}
