/**
 * 'fuse': the Fusion half of a run. Scores the run's trained members and the soups of the
 * requested methods on the validation split, evaluates each method's model on the test split
 * (bootstrap 95% CIs, paired test against the best individual), on OOD datasets and on the
 * corruption suite; records soups (weights under runs/<run>/soups/<soup>/) and evaluations.
 * Resumable: each finished method's report is saved in the job state and skipped on resume.
 */
import type { Json, MemberRecord } from '../../../shared/records'
import type { FuseMethodReport, FuseReport } from '../../engine/fusion/run'
import type { FusionResult } from '../../engine/fusion/methods'
import type { Checkpoint } from '../../engine/models/checkpoint'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { FLAT_METHOD_IDS, METRIC_IDS } from '../../../shared/vocabulary'
import { fuseParams } from '../../../shared/jobs'
import type { FuseResult } from '../../../shared/job-results'
import { defineJob, type JobContext } from './types'
import { leaveOutDamaged, recordCheckpoint } from '../integrity'
import { writeFileAtomic } from '../../engine/io/atomic'

export { fuseParams }

interface FuseState {
  [key: string]: Json
  /** Reports of the methods finished so far (as JSON: an undefined value, NaN, is stored as null). */
  done: FuseMethodReport[]
}

/** The chain of parents of a member, up to its root (FGG lineage = the root's id). */
function lineageOf(m: MemberRecord, byId: Map<string, MemberRecord>): string {
  let cur = m
  for (let guard = 0; cur.parentId && byId.has(cur.parentId) && guard < 1000; guard++) cur = byId.get(cur.parentId)!
  return cur.id
}

/** A report's metrics as `{ <metric>: { value, ci } }` (the CLI's JSON shape). */
function metricValues(
  m: Record<string, { value: number; ci: [number, number] }>
): Record<string, { value: number; ci: [number, number] }> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { value: v.value, ci: v.ci }]))
}

/** The job result's row of one method. */
export function methodRow(r: FuseMethodReport): Record<string, unknown> {
  return {
    // the best individual's model is its member
    method: r.method,
    label: r.label,
    kind: r.kind,
    modelId: r.modelId ?? (r.method === 'best' ? (r.ingredients[0]?.memberId ?? null) : null),
    val: r.val,
    test: metricValues(r.test.metrics),
    testN: r.test.n,
    vsBest: r.vsBest ? { difference: r.vsBest.difference, ci: r.vsBest.ci, p: r.vsBest.p } : null,
    ood: Object.fromEntries(
      Object.entries(r.ood).map(([id, o]) => [
        id,
        { n: o.n, metrics: metricValues(o.metrics), unmappedSource: o.unmappedSource, unmatchedRun: o.unmatchedRun }
      ])
    ),
    corruptions: r.corruptions ?? null,
    epochs: r.epochs,
    seconds: r.seconds,
    accounting: r.accounting,
    ingredients: r.ingredients,
    tree: r.tree,
    steps: r.steps
  }
}

/** Share of the job's progress bar the fusion takes; the stored test predictions take the rest. */
const PREDICTIONS_FROM = 0.9

/**
 * Where the per-image test predictions of one model of a run are kept (workspace-relative CSV,
 * the format of engine/evaluate/model.ts `predictionsCsv`). `modelKey` is a member or soup id,
 * or `<fuse job id>-ensemble` for the ensemble baseline (which has no single model).
 */
export function predictionsPath(runId: string, modelKey: string): string {
  return `runs/${runId}/predictions/${modelKey}.test.csv`
}

/**
 * Writes the test predictions of every fused member and of every method's model, so the
 * interface can draw ROC curves / confusion matrices of any model and compare any two methods
 * on the same images. Files already written (an earlier attempt) are kept. Answers the file of
 * each method, by method id.
 */
async function storeTestPredictions(
  ctx: JobContext,
  runId: string,
  datasetDir: string,
  classes: string[],
  members: MemberRecord[],
  methods: FuseMethodReport[],
  computed: FuseReport['testProbs']
): Promise<Record<string, string>> {
  const { evaluateModel, parsePredictionsCsv, predictionsCsv } = await import('../../engine/evaluate/model')
  const { averageProbs } = await import('../../engine/evaluate/predict')
  const { DatasetReader } = await import('../../engine/data/reader')
  const { mapClasses, remapMultiLabels, remapSingleLabels } = await import('../../engine/evaluate/ood')
  // Probabilities the fusion already computed on the test split (same model, same images, split
  // order) are written as they are; only the other models are predicted here.
  const reader = await DatasetReader.open(datasetDir)
  const sameClasses =
    reader.meta.classes.length === classes.length && reader.meta.classes.every((c, i) => c === classes[i])
  const labels = await reader.labels('test')
  const testTask = reader.meta.task
  await reader.close()
  // truth exactly as evaluateModel derives it (the run's own classes: an identity mapping)
  const mapping = mapClasses(classes, classes)
  const truth =
    testTask === 'single'
      ? remapSingleLabels(labels, mapping)
      : {
          rows: Int32Array.from({ length: labels.length / classes.length }, (_, i) => i),
          yTrue: remapMultiLabels(labels, classes.length, mapping, classes.length)
        }
  const complete = truth.rows.length === labels.length / (testTask === 'single' ? 1 : classes.length)
  const known = new Map<string, Float32Array>(
    sameClasses && complete
      ? [
          ...computed.members,
          ...methods.flatMap((r): [string, Float32Array][] =>
            r.modelId && computed.methods.has(r.method) ? [[r.modelId, computed.methods.get(r.method)!]] : []
          )
        ]
      : []
  )
  const save = async (rel: string, csv: string): Promise<void> => {
    const abs = ctx.workspace.resolve(rel)
    await mkdir(dirname(abs), { recursive: true })
    await writeFileAtomic(abs, [new TextEncoder().encode(csv)], 'file', 'test predictions') // never a half-written file after a crash
  }
  const models = [
    ...members.map((m) => ({ key: m.id, dir: m.checkpointPath! })),
    ...methods.flatMap((r) =>
      r.modelId && r.method !== 'best'
        ? [{ key: r.modelId, dir: ctx.store.soups.get(r.modelId)?.checkpointPath ?? null }]
        : []
    )
  ]
  let done = 0
  for (const m of models) {
    ctx.signal.throwIfAborted()
    const rel = predictionsPath(runId, m.key)
    const probs = known.get(m.key)
    if (m.dir && !existsSync(ctx.workspace.resolve(rel)) && probs) {
      await save(rel, predictionsCsv({ task: testTask, classes, rows: truth.rows, yTrue: truth.yTrue, probs }))
    } else if (m.dir && !existsSync(ctx.workspace.resolve(rel))) {
      // one resample: only the probabilities are kept here, the CIs come from the fusion report
      const r = await evaluateModel({
        checkpointDir: ctx.workspace.resolve(m.dir),
        datasetDir,
        split: 'test',
        bootstrap: { resamples: 1 },
        signal: ctx.signal
      })
      await save(rel, predictionsCsv(r))
    }
    ctx.progress({
      fraction: PREDICTIONS_FROM + (1 - PREDICTIONS_FROM) * (++done / models.length),
      phase: 'test predictions for the curves',
      etaSeconds: null
    })
  }
  const files: Record<string, string> = {}
  for (const r of methods) {
    if (r.kind === 'ensemble') {
      const rel = predictionsPath(runId, `${ctx.jobId}-ensemble`)
      if (!existsSync(ctx.workspace.resolve(rel))) {
        const each = await Promise.all(
          members.map(async (m) =>
            parsePredictionsCsv(await readFile(ctx.workspace.resolve(predictionsPath(runId, m.id)), 'utf8'))
          )
        )
        const { rows, predictions } = each[0]
        await save(
          rel,
          predictionsCsv({
            task: predictions.task,
            classes,
            rows,
            yTrue: predictions.yTrue,
            probs: averageProbs(each.map((e) => e.predictions.probs))
          })
        )
      }
      files[r.method] = rel
    } else {
      const key = r.method === 'best' ? r.ingredients[0]?.memberId : r.modelId
      if (key && existsSync(ctx.workspace.resolve(predictionsPath(runId, key))))
        files[r.method] = predictionsPath(runId, key)
    }
  }
  return files
}

export const fuseJob = defineJob<'fuse', FuseState>({
  kind: 'fuse',
  description: 'Fusion: soups (best, uniform, greedy, hierarchical), ensemble baseline, test CIs, OOD and corruptions.',
  params: fuseParams,
  links: (p) => ({ runId: p.runId }),
  async run(ctx, p) {
    const { initBackend } = await import('../../engine/compute')
    const { runFusion } = await import('../../engine/fusion/run')
    const { writeCheckpoint } = await import('../../engine/models/checkpoint')
    const run = ctx.store.runs.get(p.runId)
    if (!run) throw new Error(`run ${p.runId} not found`)
    const dataset = ctx.store.datasets.get(run.datasetId)
    if (!dataset) throw new Error(`dataset ${run.datasetId} of run ${p.runId} not found`)
    const all = ctx.store.runs.listMembers(p.runId)
    const byId = new Map(all.map((m) => [m.id, m]))
    // members whose weights no longer match their recorded SHA-256 are left out, with a warning
    const { kept: ready, damaged } = await leaveOutDamaged(
      ctx.store,
      ctx.workspace,
      all.filter((m) => m.status === 'done' && m.checkpointPath),
      (w) => ctx.log('warn', w)
    )
    if (ready.length < all.length)
      ctx.log(
        'warn',
        `${all.length - ready.length} of ${all.length} members are not trained yet; fusing the ${ready.length} that are`
      )
    if (ready.length === 0) throw new Error(`run ${p.runId} has no trained members to fuse`)
    const config = (run.config ?? {}) as Record<string, Json>
    const metric =
      p.metric ?? (METRIC_IDS.includes(config.metric as never) ? (config.metric as (typeof METRIC_IDS)[number]) : 'acc')
    const ood = p.ood.map((id) => {
      const d = ctx.store.datasets.get(id)
      if (!d) throw new Error(`--ood: dataset ${id} not found`)
      return { id, dir: ctx.workspace.datasetDir(id), classMap: p.classMap[id] }
    })

    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    const { loadNative } = await import('../../engine/compute/native')
    const native = loadNative()
    const threads = p.threads !== undefined && native.loaded && info.backend === 'wasm' ? p.threads : info.threads
    if (p.threads !== undefined && threads !== p.threads)
      ctx.log(
        'warn',
        `--threads ${p.threads}: the native kernels are not in use (${info.backend}${native.loaded ? '' : `: ${native.reason}`}); fusing on ${info.threads} thread${info.threads === 1 ? '' : 's'}`
      )
    if (native.loaded && threads !== info.threads) native.addon.setThreads(threads)
    try {
      ctx.log(
        'info',
        `fusing ${ready.length} members of ${p.runId} on ${info.backend} (${threads} thread${threads === 1 ? '' : 's'}); selection metric ${metric}, groups by ${p.groupBy}`
      )
      const state = ctx.state.get() ?? { done: [] }
      const t0 = Date.now()
      let lastProgress = 0

      const saveSoup = async (r: FusionResult, ckpt: Checkpoint): Promise<string> => {
        // The id is a function of (job, run, method): an attempt killed after recording this soup but
        // before saving the job state finds its row again on resume instead of leaving an orphan.
        const soupId = `soup_${createHash('sha256').update(`${ctx.jobId}\0${p.runId}\0${r.method}`).digest('hex').slice(0, 20)}`
        const dir = ctx.workspace.soupDir(p.runId, soupId)
        if (ctx.store.soups.get(soupId)) return soupId
        const { format: _f, version: _v, optimizer: _o, ...meta } = ckpt.meta
        await writeCheckpoint(
          dir,
          { meta: { ...meta, info: { soup: r.method, runId: p.runId } }, weights: ckpt.weights },
          { kind: 'soup' }
        )
        recordCheckpoint(ctx.store, ctx.workspace, ctx.workspace.toRelative(dir))
        const stepScore = new Map(r.steps.map((s) => [s.candidate, s.score]))
        const hierarchical = !(FLAT_METHOD_IDS as readonly string[]).includes(r.method)
        ctx.store.soups.create(
          {
            id: soupId,
            runId: p.runId,
            name: `${r.method} (${metric})`,
            method: r.method,
            groupBy: hierarchical ? p.groupBy : null,
            selectionMetric: metric,
            valScore: Number.isFinite(r.val) ? r.val : null,
            checkpointPath: ctx.workspace.toRelative(dir),
            wallSeconds: r.accounting.soupSeconds,
            backend: info.backend,
            status: 'done',
            config: JSON.parse(
              JSON.stringify({ ties: p.ties, tree: r.tree, steps: r.steps, accounting: r.accounting })
            ) as Json
          },
          Object.entries(r.recipe).map(([memberId, weight]) => ({
            memberId,
            childSoupId: null,
            weight,
            kept: weight > 0,
            stepScore: Number.isFinite(stepScore.get(memberId)) ? stepScore.get(memberId)! : null
          }))
        )
        return soupId
      }

      // every member of a run starts from the run's start/ (or lp/best after a linear probe): fission/plans.ts
      const startRel = ctx.workspace.toRelative(
        join(ctx.workspace.runDir(p.runId), Number(config.lpEpochs) > 0 ? 'lp/best' : 'start')
      )
      const startKnown = existsSync(join(ctx.workspace.resolve(startRel), 'model.json'))
      const report: FuseReport = await runFusion({
        members: ready.map((m) => ({
          id: m.id,
          dir: ctx.workspace.resolve(m.checkpointPath!),
          epochs: m.epochs,
          seconds: m.wallSeconds,
          ...(startKnown ? { start: startRel, startDir: ctx.workspace.resolve(startRel) } : {}),
          hparams: {
            ...m.hyperparams,
            lineage: lineageOf(m, byId),
            ...(m.groupKey && !(p.groupBy in m.hyperparams) ? { [p.groupBy]: m.groupKey } : {})
          }
        })),
        datasetDir: ctx.workspace.datasetDir(run.datasetId),
        metric,
        methods: p.methods,
        groupBy: p.groupBy,
        ties: p.ties,
        bootstrap: { resamples: p.resamples, seed: p.seed },
        ood,
        corruptions: p.corruptions,
        corruptionSeed: p.seed,
        corruptionImages: p.corruptionImages,
        corruptionEnsemble: p.corruptionEnsemble,
        bnBatches: p.bnBatches,
        signal: ctx.signal,
        log: (m) => ctx.log('info', m),
        progress: (stage, done, total) => {
          // a few events per second at most: validation evaluations can be much faster
          if (Date.now() - lastProgress < 250 && done < total) return
          lastProgress = Date.now()
          const fraction = PREDICTIONS_FROM * (total > 0 ? Math.min(1, done / total) : 0)
          const elapsed = (Date.now() - t0) / 1000
          ctx.progress({
            fraction,
            phase: stage,
            etaSeconds: fraction > 0.05 ? (elapsed / fraction) * (1 - fraction) : null
          })
        },
        saveSoup,
        done: state.done,
        onMethod: (r) => {
          // evaluations of saved models: soups by soup id, the best individual by member id
          const owner =
            r.method === 'best' ? { memberId: r.ingredients[0].memberId } : r.modelId ? { soupId: r.modelId } : null
          if (owner) {
            const rows = [
              { datasetId: run.datasetId, split: 'test', n: r.test.n, metrics: r.test.metrics },
              ...Object.entries(r.ood).map(([datasetId, o]) => ({
                datasetId,
                split: 'test',
                n: o.n,
                metrics: o.metrics
              }))
            ]
            ctx.store.evaluations.record(
              rows.flatMap((row) =>
                Object.entries(row.metrics)
                  .filter(([, v]) => Number.isFinite(v.value))
                  .map(([m, v]) => ({
                    ...owner,
                    datasetId: row.datasetId,
                    split: row.split,
                    metric: m,
                    value: v.value,
                    ciLo: Number.isFinite(v.ci[0]) ? v.ci[0] : null,
                    ciHi: Number.isFinite(v.ci[1]) ? v.ci[1] : null,
                    n: row.n
                  }))
              )
            )
          }
          state.done.push(JSON.parse(JSON.stringify(r)) as FuseMethodReport)
          ctx.state.set(state)
        }
      })
      const tp = Date.now()
      const predictions = await storeTestPredictions(
        ctx,
        p.runId,
        ctx.workspace.datasetDir(run.datasetId),
        dataset.classes,
        ready,
        report.methods,
        report.testProbs
      )
      const total = (Date.now() - t0) / 1000
      return JSON.parse(
        JSON.stringify({
          runId: p.runId,
          datasetId: run.datasetId,
          metric: report.metric,
          groupBy: report.groupBy,
          backend: info.backend,
          // where the time went: the fusion's parts (engine/fusion/run.ts FuseSeconds), storing the per-image test predictions, the total
          seconds: { ...report.seconds, predictions: +((Date.now() - tp) / 1000).toFixed(2), total },
          corruptionSuite: report.corruptionSuite,
          members: report.members,
          notes: [
            ...damaged.map((d) => `member ${d.memberId} (${d.name}) is damaged and was left out: ${d.reason}`),
            ...report.notes
          ],
          damaged,
          methods: report.methods.map(methodRow),
          // per method id: its per-image test predictions (workspace-relative), for paired comparisons
          predictions,
          threads
        })
      ) as FuseResult
    } finally {
      // the engine process's own setting again (a pipeline's next stage trains)
      if (native.loaded && info.backend === 'wasm') native.addon.setThreads(info.threads)
    }
  }
})
