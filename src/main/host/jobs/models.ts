/**
 * 'import-weights': a pretrained network's weights file (ONNX or safetensors, as PyTorch / timm
 * write them) into the workspace as an imported network `pt-…` (engine/models/pretrained):
 * architecture recognised from the tensors, names and layouts mapped, the head kept, the
 * preprocessing recorded. Nothing is written unless the whole file maps.
 */
import { importWeightsParams } from '../../../shared/jobs'
import type { ImportWeightsResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { importWeightsParams }

export const importWeightsJob = defineJob<'import-weights'>({
  kind: 'import-weights',
  description: 'Import pretrained weights (ONNX or safetensors from PyTorch / timm) as a starting point.',
  params: importWeightsParams,
  resumable: false,
  async run(ctx, p) {
    const { importPretrained } = await import('../../engine/models/pretrained/library')
    ctx.progress({ fraction: 0, phase: 'reading', etaSeconds: null })
    const r = await importPretrained(ctx.workspace.dir, p.path, {
      arch: p.arch,
      name: p.name,
      size: p.size,
      mean: p.mean,
      std: p.std,
      heads: p.heads
    })
    const e = r.entry
    ctx.log(
      'info',
      `imported ${e.origin.file} as ${e.id} (${e.arch}): ${r.report.matched.length} tensors matched, ${r.report.reshaped.length} reshaped, ${r.report.skipped.length} skipped`
    )
    return {
      model: {
        id: e.id,
        name: e.name,
        arch: e.arch,
        classes: e.numClasses,
        preprocessing: e.preprocessing,
        origin: { file: e.origin.file, format: e.origin.format, sha256: e.origin.sha256 },
        tensors: r.report
      }
    } satisfies ImportWeightsResult
  }
})
