/**
 * `evaluate --model ID --dataset ID`: scores a member or soup on any dataset whose classes map
 * onto the model's, with bootstrap 95% CIs; --predictions writes the per-image probabilities
 * as CSV (`index,label,p0,p1,…`; multi-label `index,label_0,…,p_0,…`, blank = missing label).
 */
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { startBackend, type CliCommand } from './types'
import { checkCheckpoint } from '../host/integrity'
import { datasetNotReady, modelNotReady } from '../host/preflight'

export const evaluateCommand: CliCommand = {
  command: 'evaluate',
  description:
    'Score a model (member or soup) on a dataset split, with 95% CIs; optionally write per-image predictions as CSV.',
  options: [
    { flags: '--model <id>', description: 'member (mem_…) or soup (soup_…) id (required)' },
    {
      flags: '--dataset <id>',
      description: "dataset id (required); its classes must map onto the model's by name or --class-map"
    },
    { flags: '--split <name>', description: 'train, val or test', default: 'test' },
    { flags: '--class-map <json>', description: 'explicit class map {"<dataset class>": "<model class>"}' },
    {
      flags: '--predictions <file.csv>',
      description: 'write per-image predictions (row index in the split, label(s), probabilities)'
    },
    { flags: '--resamples <n>', description: 'bootstrap resamples of the CIs (default 1000)', parse: Number }
  ],
  async run(ctx, _args, o) {
    if (!o.model || !o.dataset) throw new Error('evaluate: --model <id> and --dataset <id> are required')
    const split = String(o.split)
    if (!['train', 'val', 'test'].includes(split)) throw new Error(`--split must be train, val or test, got '${split}'`)
    let classMap: Record<string, string> | undefined
    if (o.classMap) {
      try {
        classMap = JSON.parse(String(o.classMap)) as Record<string, string>
      } catch (e) {
        throw new Error(`--class-map is not valid JSON: ${(e as Error).message}`)
      }
    }
    const app = ctx.app()
    const id = String(o.model)
    const member = app.store.runs.getMember(id)
    const soup = member ? undefined : app.store.soups.get(id)
    const rel = member?.checkpointPath ?? soup?.checkpointPath
    if (!rel) throw new Error(`model ${id}: no member or soup with weights has this id`)
    const notReady = modelNotReady((member ?? soup)!, member ? 'member' : 'soup')
    if (notReady) throw new Error(notReady)
    const damage = await checkCheckpoint(app.store, app.workspace, rel)
    if (damage) throw new Error(`${member ? 'member' : 'soup'} ${id} is damaged and cannot be evaluated: ${damage}`)
    const dataset = app.store.datasets.get(String(o.dataset))
    if (!dataset) throw new Error(`dataset ${String(o.dataset)} not found`)
    if (datasetNotReady(dataset)) throw new Error(datasetNotReady(dataset))
    const { evaluateModel, predictionsCsv } = await import('../engine/evaluate/model')
    const info = await startBackend(ctx)
    const r = await evaluateModel({
      checkpointDir: app.workspace.resolve(rel),
      datasetDir: app.workspace.datasetDir(dataset.id),
      split: split as 'test',
      classMap,
      bootstrap: { resamples: (o.resamples as number | undefined) ?? 1000 }
    })
    for (const n of r.notes) ctx.log(`note: ${n}`)
    if (o.predictions) {
      const file = resolve(String(o.predictions))
      writeFileSync(file, predictionsCsv(r))
      ctx.log(`wrote ${r.n} predictions to ${String(o.predictions)}`)
    }
    const clean = (v: number): number | null => (Number.isFinite(v) ? v : null)
    return {
      modelId: id,
      datasetId: dataset.id,
      split,
      n: r.n,
      backend: info.backend,
      metrics: Object.fromEntries(
        Object.entries(r.metrics).map(([k, v]) => [k, { value: clean(v.value), ci: [clean(v.ci[0]), clean(v.ci[1])] }])
      ),
      unmappedClasses: r.mapping.unmappedSource
    }
  },
  print(result, out) {
    const r = result as {
      modelId: string
      datasetId: string
      split: string
      n: number
      metrics: Record<string, { value: number | null; ci: (number | null)[] }>
    }
    out(`${r.modelId} on ${r.datasetId}/${r.split} (${r.n} images):`)
    const f = (v: number | null): string => (v === null ? '—' : v.toFixed(4))
    for (const [k, v] of Object.entries(r.metrics))
      out(`  ${k.padEnd(7)} ${f(v.value)}  [${f(v.ci[0])}, ${f(v.ci[1])}]`)
  }
}
