/**
 * 'predict': a model's outputs (probabilities, or logits) on new images, with the model's own
 * preprocessing, written as CSV or .npy. The model is a member, a soup or an imported network;
 * the input an .npz of uint8 images, an image folder or a DICOM folder. Files that cannot be
 * read are listed in the result, not fatal.
 */
import type { Store } from '../../store'
import type { Workspace } from '../../workspace'
import { predictParams } from '../../../shared/jobs'
import type { PredictResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { predictParams }

/** The checkpoint folder of a member, soup or imported network, naming what was not found. */
export async function modelCheckpoint(id: string, workspace: Workspace, store: Store): Promise<string> {
  const { isPretrained, pretrainedDir } = await import('../../engine/models/pretrained/library')
  if (isPretrained(workspace.dir, id)) return pretrainedDir(workspace.dir, id)
  const member = store.runs.getMember(id)
  if (member) {
    if (!member.checkpointPath) throw new Error(`model ${id}: member has no checkpoint yet (status ${member.status})`)
    return workspace.resolve(member.checkpointPath)
  }
  const soup = store.soups.get(id)
  if (soup) {
    if (!soup.checkpointPath) throw new Error(`model ${id}: soup has no checkpoint`)
    return workspace.resolve(soup.checkpointPath)
  }
  throw new Error(`model ${id}: no member, soup or imported network (pt-…) with that id (see: fissionfusion models)`)
}

export const predictJob = defineJob<'predict'>({
  kind: 'predict',
  description: 'Outputs of a model (member, soup or imported network) on new images, as CSV or .npy.',
  params: predictParams,
  resumable: false,
  async run(ctx, p) {
    const { writeFile, rename } = await import('node:fs/promises')
    const { basename } = await import('node:path')
    const { initBackend } = await import('../../engine/compute')
    const { loadModel, readCheckpoint } = await import('../../engine/models/checkpoint')
    const { loadPredictInput, predictImages, npyBytes, csvText } =
      await import('../../engine/models/pretrained/predict')
    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    const ckpt = await readCheckpoint(await modelCheckpoint(p.modelId, ctx.workspace, ctx.store), { optimizer: false })
    const { meta } = ckpt
    const normalization = meta.normalization ?? (await import('../../engine/data/reader')).DEFAULT_NORMALISATION
    const t0 = Date.now()
    const input = await loadPredictInput(p.input, [meta.inputShape[0], meta.inputShape[1]], {
      signal: ctx.signal,
      onProgress: (d, t) => ctx.progress({ fraction: 0.3 * (d / t), phase: `reading ${d}/${t}`, etaSeconds: null })
    })
    for (const e of input.errors.slice(0, 20)) ctx.log('warn', `${e.file}: ${e.reason}`)
    const notes: string[] = []
    if (input.shape[0] !== meta.inputShape[0] || input.shape[1] !== meta.inputShape[1])
      notes.push(`resized ${input.shape[0]}×${input.shape[1]} → ${meta.inputShape[0]}×${meta.inputShape[1]} (bilinear)`)
    if (input.shape[2] !== meta.inputShape[2]) notes.push(`gray images repeated to ${meta.inputShape[2]} channels`)
    for (const n of notes) ctx.log('info', n)
    const model = await loadModel(ckpt)
    let values: Float32Array
    try {
      values = await predictImages(model, input.images, input.n, input.shape, {
        normalization,
        task: meta.task,
        logits: p.logits,
        batchSize: p.batchSize,
        signal: ctx.signal,
        onProgress: (d, t) =>
          ctx.progress({ fraction: 0.3 + 0.7 * (d / t), phase: `predicting ${d}/${t}`, etaSeconds: null })
      })
    } finally {
      model.dispose()
    }
    const k = meta.classes.length
    const bytes = /\.npy$/i.test(p.out)
      ? npyBytes(values, [input.n, k])
      : new TextEncoder().encode(csvText(values, input.names, meta.classes, p.logits))
    const tmp = `${p.out}.tmp-${process.pid}`
    await writeFile(tmp, bytes)
    await rename(tmp, p.out)
    return {
      model: p.modelId,
      arch: meta.arch,
      images: input.n,
      outputs: k,
      classes: meta.classes,
      kind: p.logits ? 'logits' : meta.task === 'single' ? 'softmax' : 'sigmoid',
      preprocessing: {
        size: [meta.inputShape[0], meta.inputShape[1]],
        mean: normalization.mean,
        std: normalization.std
      },
      out: basename(p.out),
      seconds: (Date.now() - t0) / 1000,
      notes,
      failed: input.errors.length,
      errors: input.errors
    } satisfies PredictResult
  }
})
