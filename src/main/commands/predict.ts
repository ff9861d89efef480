/**
 * `predict --model ID --input PATH --out FILE.csv|FILE.npy [--logits]`: a model's outputs on new
 * images (an .npz of uint8 N×H×W×C images, an image folder or a DICOM folder) with the model's
 * own preprocessing (a 'predict' job: progress, Ctrl-C). CSV: `image` then one column per class;
 * .npy: float32 N × K. Unreadable files are listed, not fatal.
 */
import { resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { intFlag, type CliCommand } from './types'
import type { PredictResult } from '../../shared/job-results'

export const predictCommand: CliCommand = {
  command: 'predict',
  description: 'Outputs of a model (member, soup or imported network) on new images, as CSV or .npy.',
  options: [
    { flags: '--model <id>', description: 'member, soup or imported network (pt-…) id (required)' },
    { flags: '--input <path>', description: '.npz of uint8 images, an image folder or a DICOM folder (required)' },
    { flags: '--out <file>', description: 'output .csv or .npy (required)' },
    { flags: '--logits', description: 'logits instead of probabilities' },
    intFlag('--batch-size <n>', 'images per batch (default 16)', 1)
  ],
  async run(ctx, _args, o) {
    if (!o.model) throw new Error('predict: --model <id> is required')
    if (!o.input) throw new Error('predict: --input <path> is required')
    if (!o.out || !/\.(csv|npy)$/i.test(String(o.out)))
      throw new Error('predict: --out <file> ending in .csv or .npy is required')
    const params = Object.fromEntries(
      Object.entries({
        modelId: o.model,
        input: resolve(String(o.input)),
        out: resolve(String(o.out)),
        logits: o.logits === true,
        batchSize: o.batchSize
      }).filter(([, v]) => v !== undefined)
    )
    const job: JobRecord = await ctx.runJob('predict', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(job.error ?? `predict job ${job.id} ${job.status}`)
    }
    return job.result
  },
  print(result, out) {
    const r = result as PredictResult
    out(
      `${r.images} image(s) → ${r.out}: ${r.outputs} ${r.kind} per image (${r.arch}, input ${r.preprocessing.size.join('×')}, mean ${String(r.preprocessing.mean)}, std ${String(r.preprocessing.std)}), ${r.seconds.toFixed(1)} s`
    )
    for (const n of r.notes) out(`  ${n}`)
    if (r.failed > 0) out(`${r.failed} file(s) could not be used:`)
    for (const e of r.errors.slice(0, 50)) out(`  ${e.file}: ${e.reason}`)
    if (r.errors.length > 50) out(`  ... and ${r.errors.length - 50} more (--json lists all)`)
  }
}
