/**
 * 'import-weights': a pretrained network's weights file (ONNX or safetensors, as PyTorch / timm
 * write them) into the workspace as an imported network `pt-…` (engine/models/pretrained):
 * architecture recognised from the tensors, names and layouts mapped, the head kept, the
 * preprocessing recorded. Nothing is written unless the whole file maps.
 */
import { isAbsolute } from 'node:path'
import { z } from 'zod'
import type { Json } from '../../../shared/records'
import { defineJob } from './types'

const triple = z.array(z.number()).min(1).max(3)

/** Params of an import-weights job. */
export const importWeightsParams = z.object({
  /** The weights file the user chose (absolute). */
  path: z.string().min(1).refine((p) => isAbsolute(p), 'must be an absolute path'),
  /** Architecture, where the tensors fit several (and a check otherwise). */
  arch: z.string().min(1).optional(),
  name: z.string().min(1).max(200).optional(),
  /** Input side in pixels (default 224). */
  size: z.number().int().min(16).max(1024).optional(),
  /** Per-channel mean / std after x/255 (default ImageNet's). */
  mean: triple.optional(),
  std: triple.optional(),
  /** A ViT's attention heads (default hidden / 64). */
  heads: z.number().int().min(1).max(64).optional()
}).strict()

export const importWeightsJob = defineJob<typeof importWeightsParams>({
  kind: 'import-weights',
  description: 'Import pretrained weights (ONNX or safetensors from PyTorch / timm) as a starting point.',
  params: importWeightsParams,
  resumable: false,
  async run(ctx, p) {
    const { importPretrained } = await import('../../engine/models/pretrained/library')
    ctx.progress({ fraction: 0, phase: 'reading', etaSeconds: null })
    const r = await importPretrained(ctx.workspace.dir, p.path, { arch: p.arch, name: p.name, size: p.size, mean: p.mean, std: p.std, heads: p.heads })
    const e = r.entry
    ctx.log('info', `imported ${e.origin.file} as ${e.id} (${e.arch}): ${r.report.matched.length} tensors matched, ${r.report.reshaped.length} reshaped, ${r.report.skipped.length} skipped`)
    return {
      model: {
        id: e.id, name: e.name, arch: e.arch, classes: e.numClasses, preprocessing: e.preprocessing,
        origin: { file: e.origin.file, format: e.origin.format, sha256: e.origin.sha256 },
        tensors: r.report
      }
    } as unknown as Json
  }
})
