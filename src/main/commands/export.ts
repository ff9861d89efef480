/**
 * `export --model ID --format onnx|tfjs --out FILE [--card]`: runs the 'export' job (progress,
 * Ctrl-C cancel) and prints `{ file, sha256, card }` (with --json, one JSON document).
 */
import { resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { resultOf, type ExportResult } from '../../shared/job-results'
import { oneOf, type CliCommand } from './types'

export const exportCommand: CliCommand = {
  command: 'export',
  description: 'Export a member or soup as one ONNX (or TF.js) file carrying its model card.',
  options: [
    { flags: '--model <id>', description: 'member or soup id (required)' },
    { flags: '--format <format>', description: 'onnx (default) or tfjs', parse: oneOf('--format', ['onnx', 'tfjs']) },
    {
      flags: '--out <file>',
      description: 'file to write: x.onnx, or x.json for TF.js (default: exports/<id> in the workspace)'
    },
    { flags: '--card', description: 'also write the model card as Markdown beside the file (x.md)' }
  ],
  async run(ctx, _args, o) {
    if (!o.model) throw new Error('export: --model <id> is required')
    const format = o.format === undefined ? 'onnx' : String(o.format)
    const params = {
      modelId: String(o.model),
      format,
      markdown: o.card === true,
      ...(o.out ? { out: resolve(String(o.out)) } : {})
    }
    const job: JobRecord = await ctx.runJob('export', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(`export job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}`)
    }
    const r = resultOf(job, 'export')
    if (!r) throw new Error(`export job ${job.id} answered no result`)
    return { file: r.file, sha256: r.sha256, card: r.card }
  },
  print(result, out) {
    const r = result as Omit<ExportResult, 'files'>
    const c = r.card
    out(`wrote ${r.file}`)
    out(`sha256 ${r.sha256}`)
    out(
      `${c.modelName}: ${c.method.kind} of ${c.method.ingredients.length} model(s), dataset ${c.dataset.name} (${c.dataset.classes.length} classes)`
    )
    out(
      `input float32 [N, ${c.preprocessing.size[0]}, ${c.preprocessing.size[1]}, ${c.preprocessing.channels}] NHWC = (pixel/255 − [${c.preprocessing.mean.join(', ')}]) / [${c.preprocessing.std.join(', ')}]`
    )
    for (const m of c.metrics)
      out(
        `  ${m.split} ${m.metric} ${m.value === null ? 'undefined' : m.value.toFixed(4)}${m.ci95 ? ` [${m.ci95[0].toFixed(4)}, ${m.ci95[1].toFixed(4)}]` : ''}`
      )
  }
}
