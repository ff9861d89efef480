/**
 * 'pipeline': the whole method as ONE resumable job: datasets (the embedded synthetic default and
 * its shifted OOD twin, or the user's imports) → a short pretraining (the shared starting point)
 * → a grid and an FGG plan from it → every fusion method on both runs (in-domain, OOD and
 * corruption evaluation) → the best soup by validation exported as one ONNX file with its card.
 *
 * Each stage is the existing job kind (import, fission, fuse, export) run in this engine process
 * with a sub-context whose resumable state is a slice of this job's state; a stage's result is
 * saved once it ends, so a resumed pipeline skips finished stages, and inside a stage the stage
 * job's own resume applies (finished members, units and fusion methods are not redone).
 */
import { z } from 'zod'
import type { Json, MemberRecord } from '../../../shared/records'
import { exportJob, exportParams } from './export'
import { fissionJob, fissionParams } from './fission'
import { fuseJob, fuseParams } from './fuse'
import { importJob, importParams } from './import'
import type { JobContext, TypedJobKind } from './types'
import { pipelineParams } from '../../../shared/jobs'
import type { ExportResult, FissionResult, FuseResult, ImportResult, PipelineResult } from '../../../shared/job-results'
import { defineJob } from './types'

export { pipelineParams }

type PipelineParams = z.output<typeof pipelineParams>

/** The stage kinds, params and results typed (each stage's state is a JSON slice of this job's). */
const stages: {
  import: TypedJobKind<'import'>
  fission: TypedJobKind<'fission'>
  fuse: TypedJobKind<'fuse'>
  export: TypedJobKind<'export'>
} = {
  import: importJob,
  fission: fissionJob,
  fuse: fuseJob,
  export: exportJob
}

interface StageRecord {
  [key: string]: Json
  /** The stage job's own resumable state. */
  state: Json
  /** Its result, once it has ended (then the stage is skipped on resume). */
  result: Json
  seconds: number
}

interface PipelineState {
  [key: string]: Json
  stages: Record<string, StageRecord>
}

/** The datasets stage's result: the source dataset's id and the OOD datasets' ids. */
type DataIds = { source: string; ood: string[] }

/**
 * A value this job saved in its state (the JSON of a T: a stage's result or a stage job's state),
 * read back as that T. The one place the pipeline trusts its stored JSON's type.
 */
const stored = <T extends Json>(value: Json): T => value as T

/** Stages in order with their share of the progress bar. */
const SPANS: Record<string, [number, number]> = {
  data: [0, 0.02],
  pretrain: [0.02, 0.1],
  grid: [0.1, 0.55],
  fgg: [0.55, 0.65],
  'fuse-grid': [0.65, 0.85],
  'fuse-fgg': [0.85, 0.98],
  export: [0.98, 1]
}

export const pipelineJob = defineJob<'pipeline', PipelineState>({
  kind: 'pipeline',
  description:
    'The whole method: datasets, shared start, grid + FGG, every fusion method, OOD/corruptions, ONNX export (resumable).',
  params: pipelineParams,
  async run(ctx, p: PipelineParams) {
    const { initBackend } = await import('../../engine/compute')
    const info = await initBackend()
    if (info.warning) ctx.log('warn', info.warning)
    const state: PipelineState = ctx.state.get() ?? { stages: {} }
    const t0 = Date.now()

    /** Runs a stage unless its result is saved; the stage's state lives in this job's state. */
    const stage = async <T extends Json, S extends Json = Json>(
      name: string,
      fn: (sub: JobContext<S>) => Promise<T>
    ): Promise<T> => {
      const saved = state.stages[name]
      if (saved?.result !== null && saved?.result !== undefined) return stored<T>(saved.result)
      ctx.signal.throwIfAborted()
      const [lo, hi] = SPANS[name]
      const rec: StageRecord = saved ?? { state: null, result: null, seconds: 0 }
      state.stages[name] = rec
      const sub: JobContext<S> = {
        ...ctx,
        progress: (pr) =>
          ctx.progress({ ...pr, fraction: lo + (hi - lo) * pr.fraction, phase: `${name}: ${pr.phase}` }),
        log: (level, message) => ctx.log(level, `${name}: ${message}`),
        state: {
          get: () => (rec.state === null ? null : stored<S>(rec.state)),
          set: (s) => {
            rec.state = s
            ctx.state.set(state)
          }
        }
      }
      sub.progress({ fraction: 0, phase: 'start', etaSeconds: null })
      const started = Date.now()
      let result: T
      try {
        result = await fn(sub)
        ctx.signal.throwIfAborted()
      } catch (e) {
        // an interrupted attempt's time counts too: a resumed stage reports the seconds it took in all
        rec.seconds += (Date.now() - started) / 1000
        ctx.state.set(state)
        throw e
      }
      rec.result = result
      rec.seconds += (Date.now() - started) / 1000
      ctx.state.set(state)
      return result
    }

    // 1. Datasets.
    const data = await stage<DataIds, Record<string, Json>>('data', async (sub) => {
      if (p.data.kind === 'import') {
        const importOne = async (spec: z.output<typeof importParams>, key: string): Promise<string> => {
          const slice = sub.state.get() ?? {}
          const r: ImportResult = await stages.import.run(
            {
              ...sub,
              state: {
                get: () => slice[key] ?? null,
                set: (s) => {
                  slice[key] = s
                  sub.state.set(slice)
                }
              }
            },
            importParams.parse(spec)
          )
          return r.dataset.id
        }
        const source = await importOne(p.data.source, 'source')
        const ood: string[] = []
        for (const [k, spec] of p.data.ood.entries()) ood.push(await importOne(spec, `ood${k}`))
        return { source, ood }
      }
      const { writeSyntheticDataset } = await import('../../engine/demo/dataset')
      const d = p.data
      const ids = sub.state.get() ?? {}
      const make = async (variant: 'source' | 'shifted'): Promise<string> => {
        const name = variant === 'source' ? 'synthetic chest (demo)' : 'synthetic chest, other scanner (demo OOD)'
        const known = ids[variant]
        const id =
          typeof known === 'string'
            ? known
            : ctx.store.datasets.create({ name, format: 'synthetic', task: 'single', status: 'importing' }).id
        ids[variant] = id
        sub.state.set(ids)
        const meta = await writeSyntheticDataset(ctx.workspace.datasetDir(id), name, {
          counts: variant === 'source' ? d.counts : d.oodCounts,
          size: d.size,
          seed: d.seed,
          variant
        })
        ctx.store.datasets.update(id, {
          status: 'ready',
          classes: meta.classes,
          counts: meta.counts,
          meta,
          error: null
        })
        return id
      }
      return { source: await make('source'), ood: [await make('shifted')] }
    })
    const sourceId = data.source
    const oodIds = data.ood

    // 2. The shared starting point, then 3. the grid and FGG plans from it.
    // The fission settings: every param but the pipeline's own.
    const {
      data: _data,
      pretrainEpochs: _pretrainEpochs,
      methods: _methods,
      corruptions: _corruptions,
      corruptionImages: _corruptionImages,
      corruptionEnsemble: _corruptionEnsemble,
      resamples: _resamples,
      seed: _seed,
      ...plan
    } = p
    const fission = async (sub: JobContext, params: Record<string, unknown>): Promise<FissionResult> => {
      const r = await stages.fission.run(sub, fissionParams.parse(JSON.parse(JSON.stringify(params))))
      const run = r.run
      if (run.status !== 'done')
        throw new Error(
          `${String(params.plan)} run ${run.id} ended ${run.status}: ${run.units
            .filter((u) => u.reason)
            .map((u) => `${String(u.id)}: ${String(u.reason)}`)
            .join('; ')}`
        )
      return r
    }
    let from = 'random'
    let pretrainRunId: string | null = null
    if (p.pretrainEpochs > 0) {
      const pre = await stage('pretrain', (sub) =>
        fission(sub, {
          datasetId: sourceId,
          plan: 'pretrain',
          arch: p.arch,
          width: p.width,
          epochs: p.pretrainEpochs,
          batchSize: p.batchSize,
          workers: p.workers,
          name: 'shared starting point',
          executor: p.executor,
          slurm: p.slurm,
          memoryLimitMiB: p.memoryLimitMiB
        })
      )
      from = pre.members[0].id
      pretrainRunId = pre.run.id
    }
    const grid = await stage('grid', (sub) =>
      fission(sub, { ...plan, datasetId: sourceId, plan: 'grid', from, name: 'grid search' })
    )
    // 4. Every fusion method on both runs. The grid's fusion computes in this process while FGG
    // trains in worker processes, so both cores stay busy.
    // The grid's fusion shares the cores with FGG's training: one thread; FGG's runs alone: every core
    // (or every core for both when the training runs on Slurm).
    const cores = (await import('node:os')).availableParallelism()
    const fuse = async (sub: JobContext, run: FissionResult, threads: number): Promise<FuseResult> =>
      stages.fuse.run(
        sub,
        fuseParams.parse({
          threads,
          runId: run.run.id,
          methods: p.methods,
          metric: p.metric,
          ood: oodIds,
          corruptions: p.corruptions,
          resamples: p.resamples,
          seed: p.seed,
          corruptionEnsemble: p.corruptionEnsemble,
          ...(p.corruptionImages > 0 ? { corruptionImages: p.corruptionImages } : {})
        })
      )
    let gridFused = false
    const [fgg, fusedGrid] = await Promise.all([
      stage('fgg', (sub) => fission(sub, { ...plan, datasetId: sourceId, plan: 'fgg', from, name: 'FGG' })).then(
        async (r) => {
          // FGG's training has ended: the grid's fusion, if still going, takes every core
          const { loadNative } = await import('../../engine/compute/native')
          const native = loadNative()
          if (!gridFused && native.loaded && cores > 1 && p.executor !== 'slurm' && info.backend === 'wasm') {
            native.addon.setThreads(cores)
            ctx.log('info', `fuse-grid: FGG's training has ended; the grid's fusion goes on with ${cores} threads`)
          }
          return r
        }
      ),
      stage('fuse-grid', (sub) => fuse(sub, grid, p.executor === 'slurm' ? cores : 1)).finally(() => {
        gridFused = true
      })
    ])
    const fused = { grid: fusedGrid, fgg: await stage('fuse-fgg', (sub) => fuse(sub, fgg, cores)) }

    // 5. The best soup by validation (a single model: neither the best member nor the ensemble).
    const { methodsTable, pickBestSoup, SOUP_METHOD_IDS, treeText } = await import('../../engine/demo/report')
    const best = pickBestSoup(fused)
    if (!best) throw new Error(`no soup to export: give at least one soup method (${SOUP_METHOD_IDS.join(', ')})`)
    const exported: ExportResult = await stage('export', (sub) =>
      stages.export.run(sub, exportParams.parse({ modelId: best.modelId, format: 'onnx', markdown: true }))
    )

    const runIds = {
      pretrain: pretrainRunId,
      grid: grid.run.id,
      fgg: fgg.run.id
    }
    // Members in a stable order (group, lineage epoch, name), not in the order a parallel pool finished them,
    // so a resumed run prints the same table as an uninterrupted one.
    const byGroupThenLineage = (a: MemberRecord, b: MemberRecord): number =>
      (a.groupKey ?? '').localeCompare(b.groupKey ?? '') ||
      Number(a.hyperparams.epoch ?? 0) - Number(b.hyperparams.epoch ?? 0) ||
      a.name.localeCompare(b.name)
    const members = Object.entries(runIds).flatMap(([plan, runId]) =>
      (runId ? ctx.store.runs.listMembers(runId) : []).sort(byGroupThenLineage).map((m) => ({
        id: m.id,
        plan,
        name: m.name,
        group: m.groupKey,
        lr: m.hyperparams.lr ?? null,
        seed: m.hyperparams.seed ?? null,
        aug: m.hyperparams.aug ?? null,
        epoch: m.hyperparams.epoch ?? null,
        parentId: m.parentId,
        epochs: m.epochs,
        seconds: m.wallSeconds,
        val: m.valScore,
        status: m.status
      }))
    )
    const epochsOf = (plan: string) => members.filter((m) => m.plan === plan).reduce((s, m) => s + m.epochs, 0)
    const metric = fused.grid.metric
    return JSON.parse(
      JSON.stringify({
        backend: info.backend,
        engine: info.compute,
        backendWarning: info.warning ?? null,
        datasets: { source: sourceId, ood: oodIds },
        runs: runIds,
        startFrom: from,
        stages: Object.fromEntries(Object.entries(state.stages).map(([k, v]) => [k, v.seconds])),
        seconds: Object.values(state.stages).reduce((s, v) => s + v.seconds, 0),
        attemptSeconds: (Date.now() - t0) / 1000,
        metric,
        // per run: its training (the fission stage) and its fusion (the fuse stage, with the fuse job's parts), and what the corruption suite ran on
        fusion: Object.fromEntries(
          (['grid', 'fgg'] as const).map((plan) => {
            const f = fused[plan]
            const training = state.stages[plan]?.seconds ?? 0
            const fuseSeconds = state.stages[`fuse-${plan}`]?.seconds ?? 0
            return [
              plan,
              {
                trainingSeconds: training,
                fuseSeconds,
                ratio: training > 0 ? fuseSeconds / training : null,
                parts: f.seconds ?? null,
                corruptionSuite: f.corruptionSuite ?? null
              }
            ]
          })
        ),
        compute: {
          pretrainEpochs: epochsOf('pretrain'),
          gridEpochs: epochsOf('grid'),
          fggEpochs: epochsOf('fgg'),
          fggToGrid: epochsOf('fgg') / Math.max(1, epochsOf('grid'))
        },
        members,
        methods: methodsTable(fused, metric),
        best: { plan: best.plan, method: best.method, modelId: best.modelId, val: best.val },
        tree: best.tree,
        treeText: treeText(best.tree),
        export: { file: exported.file, sha256: exported.sha256, files: exported.files, card: exported.card }
      })
    ) as PipelineResult
  }
})
