/**
 * 'export': one member or soup → one deployable file (ONNX or TF.js) with its model card, filled
 * from the store: dataset name and classes, method and ingredients (leaf members with their
 * hyperparameters), validation / test / OOD metrics with CIs. The export is recorded in the store.
 * Not resumable: it is short and writes its file atomically, so a rerun is the recovery.
 */
import { APP_VERSION } from '../../version'
import { promises as fsp } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import type { EvaluationRecord, Json, MemberRecord } from '../../../shared/records'
import type { CardInput } from '../../engine/export'
import type { Store } from '../../store'
import { checkCheckpoint } from '../integrity'
import { exportParams } from '../../../shared/jobs'
import type { ExportResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { exportParams }

type Hyper = CardInput['method']['ingredients'][number]['hyperparameters']

function scalars(h: Record<string, Json>): Hyper {
  return Object.fromEntries(
    Object.entries(h).map(([k, v]) => [k, v !== null && typeof v === 'object' ? JSON.stringify(v) : v])
  )
}

/** Kept leaf members of a soup, through child soups of hierarchical soups. */
function leafMembers(store: Store, soupId: string, seen = new Set<string>()): MemberRecord[] {
  if (seen.has(soupId)) return []
  seen.add(soupId)
  return store.soups
    .ingredients(soupId)
    .filter((g) => g.kept)
    .flatMap((g) => {
      if (g.memberId) {
        const m = store.runs.getMember(g.memberId)
        return m ? [m] : []
      }
      return g.childSoupId ? leafMembers(store, g.childSoupId, seen) : []
    })
}

function metricsOf(store: Store, evals: EvaluationRecord[], runDatasetId: string): CardInput['metrics'] {
  return evals.map((e) => ({
    split: e.datasetId === runDatasetId ? e.split : `ood:${store.datasets.get(e.datasetId)?.name ?? e.datasetId}`,
    metric: e.metric,
    value: e.value,
    ...(e.ciLo !== null && e.ciHi !== null ? { ci95: [e.ciLo, e.ciHi] as [number, number] } : {}),
    ...(e.n !== null ? { n: e.n } : {})
  }))
}

export const exportJob = defineJob({
  kind: 'export',
  description: 'Export a member or soup as one ONNX (or TF.js) file with its model card.',
  params: exportParams,
  resumable: false,
  async run(ctx, p) {
    const { exportModel } = await import('../../engine/export')
    const store = ctx.store
    const soup = store.soups.get(p.modelId)
    const member = soup ? undefined : store.runs.getMember(p.modelId)
    if (!soup && !member) throw new Error(`no member or soup with id ${p.modelId}`)
    const checkpointPath = soup ? soup.checkpointPath : member!.checkpointPath
    if (!checkpointPath)
      throw new Error(
        `${p.modelId} has no weights to export${soup?.method === 'ensemble' ? ' (an ensemble is several models; export a soup or a member)' : ''}`
      )
    const run = store.runs.get(soup ? soup.runId : member!.runId)
    const dataset = run && store.datasets.get(run.datasetId)
    if (!run || !dataset) throw new Error(`the run or dataset of ${p.modelId} is missing from the store`)
    const damage = await checkCheckpoint(store, ctx.workspace, checkpointPath)
    if (damage) throw new Error(`${soup ? 'soup' : 'member'} ${p.modelId} is damaged and cannot be exported: ${damage}`)

    const ingredients = (soup ? leafMembers(store, soup.id) : [member!]).map((m) => ({
      id: m.id,
      hyperparameters: scalars(m.hyperparams)
    }))
    const evals = store.evaluations.list(soup ? { soupId: soup.id } : { memberId: member!.id })
    const valScore = soup ? soup.valScore : member!.valScore
    const metrics = metricsOf(store, evals, run.datasetId)
    if (valScore !== null && !metrics.some((m) => m.split === 'val')) {
      const metric = soup
        ? soup.selectionMetric
        : String((run.config as Record<string, Json> | null)?.metric ?? 'selection metric')
      metrics.unshift({ split: 'val', metric, value: valScore })
    }
    const card: CardInput = {
      appVersion: APP_VERSION,
      modelName: soup ? soup.name : member!.name,
      datasetName: dataset.name,
      method: soup
        ? {
            kind: `${soup.method} soup`,
            description: `${soup.name}${soup.groupBy ? `, groups by ${soup.groupBy}` : ''}; selection metric ${soup.selectionMetric}`,
            ingredients
          }
        : { kind: 'member', description: `one fine-tuned model of run ${run.name}`, ingredients },
      metrics
    }
    const out = p.out ?? join(ctx.workspace.exportsDir, `${p.modelId}.${p.format === 'onnx' ? 'onnx' : 'json'}`)
    const result = await exportModel({
      checkpointDir: ctx.workspace.resolve(checkpointPath),
      format: p.format,
      outFile: out,
      card,
      withMarkdown: p.markdown,
      signal: ctx.signal,
      onProgress: (e) => ctx.progress({ fraction: e.fraction, phase: e.phase, etaSeconds: null })
    })
    const { size } = await fsp.stat(result.file)
    const rel = relative(ctx.workspace.dir, result.file)
    // The store keeps workspace-relative paths only; a file the user put elsewhere is theirs to track.
    if (!rel.startsWith('..') && !isAbsolute(rel)) {
      store.evaluations.createExport({
        soupId: soup?.id ?? null,
        memberId: member?.id ?? null,
        format: p.format,
        path: ctx.workspace.toRelative(result.file),
        bytes: size,
        sha256: result.sha256
      })
    }
    ctx.log('info', `exported ${p.modelId} as ${p.format}: ${result.files.length} file(s), sha256 ${result.sha256}`)
    return JSON.parse(
      JSON.stringify({ file: result.file, sha256: result.sha256, card: result.card, files: result.files })
    ) as ExportResult
  }
})
