/**
 * `models`: the imported pretrained networks of the workspace (id, name, architecture, classes,
 * origin file name and SHA-256, preprocessing; never a path).
 * `models import FILE [--arch NAME] [--name TEXT] [--size PX] [--mean R,G,B] [--std R,G,B]`:
 * imports an ONNX or safetensors weights file (an 'import-weights' job). --json prints
 * `{ model: { id, name, arch, classes, preprocessing, origin, tensors: { matched, reshaped, skipped } } }`
 * where each tensor list holds `torch name → engine name (note)` entries (skipped: the name).
 */
import { resolve } from 'node:path'
import type { JobRecord } from '../../shared/records'
import { ARCHITECTURE_IDS } from '../../shared/vocabulary'
import { intFlag, listOf, table, type CliCommand } from './types'
import type { ImportWeightsResult } from '../../shared/job-results'

type ImportResult = ImportWeightsResult

const number =
  (name: string) =>
  (s: string): number => {
    const n = Number(s)
    if (!Number.isFinite(n)) throw new Error(`${name}: '${s}' is not a number`)
    return n
  }

export const modelsCommand: CliCommand = {
  command: 'models',
  description: 'List the imported pretrained networks (origin file name and SHA-256, preprocessing).',
  async run(ctx) {
    const { listPretrained } = await import('../engine/models/pretrained/library')
    return listPretrained(ctx.app().workspace.dir)
  },
  print(result, out) {
    const rows = (
      result as Awaited<ReturnType<typeof import('../engine/models/pretrained/library').listPretrained>>
    ).map((e) => ({
      id: e.id,
      name: e.name,
      arch: e.arch,
      classes: e.numClasses,
      file: e.origin.file,
      sha256: e.origin.sha256.slice(0, 16) + '…',
      input: `${e.preprocessing.size.join('×')} ${e.preprocessing.channelOrder}`,
      mean: e.preprocessing.mean.join(','),
      std: e.preprocessing.std.join(','),
      imported: e.importedAt
    }))
    for (const line of table(rows, [
      'id',
      'name',
      'arch',
      'classes',
      'file',
      'sha256',
      'input',
      'mean',
      'std',
      'imported'
    ]))
      out(line)
  }
}

export const modelsImportCommand: CliCommand = {
  command: 'models import <file>',
  description: 'Import pretrained weights (.onnx or .safetensors from PyTorch / timm) as a starting point.',
  options: [
    {
      flags: '--arch <name>',
      description: `architecture where the tensors are ambiguous (${ARCHITECTURE_IDS.filter((a) => a !== 'smallcnn').join(', ')})`
    },
    { flags: '--name <text>', description: 'name (default: the file name)' },
    intFlag('--size <px>', 'input side the weights expect (default 224)', 16),
    intFlag(
      '--heads <n>',
      "a ViT's attention heads, where its width is not a multiple of 64 (not stored in the weights)",
      1
    ),
    {
      flags: '--mean <r,g,b>',
      description: 'per-channel mean after x/255 (default ImageNet 0.485,0.456,0.406)',
      parse: listOf('--mean', number('--mean'))
    },
    {
      flags: '--std <r,g,b>',
      description: 'per-channel std (default ImageNet 0.229,0.224,0.225)',
      parse: listOf('--std', number('--std'))
    }
  ],
  async run(ctx, args, o) {
    const params = Object.fromEntries(
      Object.entries({
        path: resolve(args[0]),
        arch: o.arch,
        name: o.name,
        size: o.size,
        mean: o.mean,
        std: o.std,
        heads: o.heads
      }).filter(([, v]) => v !== undefined)
    )
    const job: JobRecord = await ctx.runJob('import-weights', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(job.error ?? `import-weights job ${job.id} ${job.status}`)
    }
    return job.result
  },
  print(result, out) {
    const m = (result as ImportResult).model
    out(
      `imported ${m.origin.file} as ${m.id} "${m.name}": ${m.arch}, ${m.classes} outputs (head kept), sha256 ${m.origin.sha256}`
    )
    out(
      `preprocessing: ${m.preprocessing.size.join('×')} ${m.preprocessing.channelOrder}, mean ${m.preprocessing.mean.join(', ')}, std ${m.preprocessing.std.join(', ')}`
    )
    out(
      `tensors: ${m.tensors.matched.length} matched, ${m.tensors.reshaped.length} reshaped, ${m.tensors.skipped.length} skipped`
    )
    const folded = m.tensors.reshaped.filter((e) => e.includes('BatchNorm folded')).length
    if (folded > 0)
      out(
        `  ${folded} BatchNorm tensors restored from convs the ONNX export had folded them into (identity statistics: fine-tuning re-estimates them)`
      )
    for (const s of m.tensors.skipped.slice(0, 10)) out(`  skipped: ${s}`)
    if (m.tensors.skipped.length > 10) out(`  ... and ${m.tensors.skipped.length - 10} more skipped (--json lists all)`)
    out(`start a run from it: fissionfusion fission --dataset ID --plan grid|fgg --from ${m.id} --lp-epochs N`)
  }
}
