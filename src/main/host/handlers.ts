/**
 * The main-side implementation of every command of src/shared/api.ts, and the dispatcher
 * that both transports (Electron IPC in ipc.ts, the WebSocket bridge in bridge.ts) call:
 *
 *   const dispatch = createDispatcher(createHandlers(app))
 *   const session = createSession((event, payload) => sendToClient(event, payload))
 *   const reply = await dispatch(commandName, untrustedRequest, session) // never throws
 *   closeSession(session) // when the client goes away
 *
 * The dispatcher validates every request against its zod schema and answers a typed
 * ApiError on bad input (code 'invalid_request' with field issues), an unknown command,
 * a missing record (`not_found`) or an unexpected failure (`internal`, message only).
 */
import { existsSync, readFileSync, readdirSync, statSync, type Dirent } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { availableParallelism, homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import {
  ApiCallError,
  commands,
  describeIssues,
  fieldIssues,
  type ApiError,
  type BackendReport,
  type CommandName,
  type DatasetInspection,
  type FolderEntry,
  type FolderListing,
  type Json,
  type MethodComparison,
  type ModelCurvesReport,
  type ParsedRequestOf,
  type ResponseOf,
  type RunEstimate
} from '../../shared/api'
import type { AppCore, Dispatch } from './core'
import { type Session } from './session'

export { closeSession, createSession, type Session } from './session'
export type { Dispatch } from './core'
import { predictionsPath } from './jobs/fuse'
import { selfCheck } from './self-check'
import { parsePredictionsCsv, type ParsedPredictions } from '../engine/evaluate/predictions-csv'
import { errorText } from '../../shared/errors'
import { resultOf, type JobResults } from '../../shared/job-results'
import type { JobKindId, JobParamsInput } from '../../shared/jobs'
import { isMetricId } from '../../shared/vocabulary'

/** One handler per command: validated request in, response out (may throw ApiCallError). */
export type Handlers = {
  [K in CommandName]: (request: ParsedRequestOf<K>, session: Session) => ResponseOf<K> | Promise<ResponseOf<K>>
}

function notFound(what: string, id: string): never {
  throw new ApiCallError({ code: 'not_found', message: `${what} ${id} not found` })
}

/** Maximum entries `browseFolder` returns. */
const MAX_ENTRIES = 5000

/** Lists names (never contents) of a folder's entries, folders first. */
export function browseFolder(path: string | undefined, showHidden: boolean): FolderListing {
  const dir = resolve(path ?? homedir())
  let names: Dirent[]
  try {
    if (!statSync(dir).isDirectory())
      throw new ApiCallError({
        code: 'invalid_request',
        message: `${dir} is not a folder`,
        issues: [{ path: 'path', message: 'not a folder' }]
      })
    names = readdirSync(dir, { withFileTypes: true })
  } catch (e) {
    if (e instanceof ApiCallError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ApiCallError({ code: 'not_found', message: `folder ${dir} does not exist` })
    throw new ApiCallError({
      code: 'invalid_request',
      message: `cannot list ${dir}: ${code ?? (e as Error).message}`,
      issues: [{ path: 'path', message: 'cannot be listed' }]
    })
  }
  const entries: FolderEntry[] = []
  for (const d of names) {
    if (!showHidden && d.name.startsWith('.')) continue
    let isDir = d.isDirectory()
    if (d.isSymbolicLink()) {
      try {
        isDir = statSync(join(dir, d.name)).isDirectory()
      } catch {
        continue // a dangling link: nothing to open
      }
    }
    entries.push({ name: d.name, kind: isDir ? 'dir' : 'file' })
  }
  entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'dir' ? -1 : 1))
  const parent = dirname(dir)
  return {
    path: dir,
    parent: parent === dir ? null : parent,
    entries: entries.slice(0, MAX_ENTRIES),
    truncated: entries.length > MAX_ENTRIES
  }
}

/** The handlers of every command, over an open app. */
export function createHandlers(app: AppCore): Handlers {
  const { store } = app
  return {
    workspaceInfo: () => app.info(),
    listDatasets: ({ limit }) => store.datasets.list(limit),
    getDataset: ({ id }) => store.datasets.get(id) ?? notFound('dataset', id),
    listRuns: ({ datasetId, limit }) => store.runs.list({ datasetId, limit }),
    getRun: ({ id }) => {
      const run = store.runs.get(id) ?? notFound('run', id)
      return { run, members: store.runs.listMembers(id), soups: store.soups.list(id) }
    },
    listMembers: ({ runId }) => store.runs.listMembers(runId),
    getMember: ({ id }) => store.runs.getMember(id) ?? notFound('member', id),
    listMetrics: ({ memberId }) => store.runs.listMetrics(memberId),
    listSoups: ({ runId }) => store.soups.list(runId),
    getSoup: ({ id }) => {
      const soup = store.soups.get(id) ?? notFound('soup', id)
      return { soup, ingredients: store.soups.ingredients(id) }
    },
    listEvaluations: (f) => store.evaluations.list(f),
    listExports: ({ limit }) => store.evaluations.listExports(limit),
    listJobKinds: () => app.jobs.listKinds(),
    listJobs: ({ status, limit }) => store.jobs.list({ status, limit }),
    getJob: ({ id }) => store.jobs.get(id) ?? notFound('job', id),
    startJob: ({ kind, params }) => app.jobs.start(kind, params),
    cancelJob: ({ id }) => app.jobs.cancel(id),
    resumeJob: ({ id }) => app.jobs.resume(id),
    subscribeJobs: ({ jobId, afterSeq }, session) => {
      session.subscriptions.get('jobs')?.()
      // Subscribe before reading the backlog, and drop live events already in it.
      const backlog = store.jobs.events({ jobId, afterSeq: afterSeq ?? 0 })
      const last = backlog.length > 0 ? backlog[backlog.length - 1].seq : (afterSeq ?? 0)
      const stop = app.jobs.subscribe((e) => {
        if ((jobId === undefined || e.jobId === jobId) && e.seq > last) session.emit('jobEvent', e)
      })
      session.subscriptions.set('jobs', stop)
      return { backlog }
    },
    unsubscribeJobs: (_req, session) => {
      session.subscriptions.get('jobs')?.()
      session.subscriptions.delete('jobs')
      return { ok: true as const }
    },
    browseFolder: ({ path, showHidden }) => browseFolder(path, showHidden),
    datasetThumbnails: ({ id }) => {
      const dataset = store.datasets.get(id) ?? notFound('dataset', id)
      return readThumbnails(app, id, dataset.meta)
    },
    inspectDataset: (req) => inspectDataset(app, req),
    modelCurves: (req) => modelCurves(app, req),
    compareMethods: (req) => compareMethods(app, req),
    estimateRun: (req) => estimateRun(app, req),
    backendInfo: () => (backend ??= probeBackend(app)),
    selfCheck: () => selfCheck(app, () => (backend ??= probeBackend(app))),
    // The desktop app answers this with a native dialog (src/main/ipc.ts); other transports have none.
    choosePath: () => {
      throw new ApiCallError({
        code: 'unavailable',
        message: 'no native dialog here: choose the folder in the in-app browser'
      })
    },
    listPretrained: async () => (await import('../engine/models/pretrained/list')).listPretrainedSync(app.workspace.dir)
  }
}

/** Thumbnails per class sent at most (each a small PNG). */
const MAX_THUMBNAILS = 8

/** The thumbnails listed in a dataset's meta (files under its thumbs/ folder) as data URLs. */
function readThumbnails(app: AppCore, datasetId: string, meta: Json): Record<string, string[]> {
  const listed = meta && typeof meta === 'object' && !Array.isArray(meta) ? meta.thumbnails : null
  const out: Record<string, string[]> = {}
  if (!listed || typeof listed !== 'object' || Array.isArray(listed)) return out
  for (const [cls, files] of Object.entries(listed)) {
    if (!Array.isArray(files)) continue
    // Plain file names only: nothing outside the dataset's thumbs/ folder is ever read.
    const names = files.filter((f): f is string => typeof f === 'string' && /^[\w.-]+$/.test(f) && !f.startsWith('.'))
    out[cls] = names.slice(0, MAX_THUMBNAILS).flatMap((file) => {
      try {
        return [
          `data:image/png;base64,${readFileSync(app.workspace.resolve(`datasets/${datasetId}/thumbs/${file}`)).toString('base64')}`
        ]
      } catch {
        return [] // a missing thumbnail is not worth failing the summary for
      }
    })
  }
  return out
}

/**
 * Runs a short engine request (a non-resumable job kind) in an engine process and answers its
 * result, so the main process never blocks on engine work; a failure rejects with `code` and
 * the engine's message.
 */
async function inEngine<K extends JobKindId>(
  app: AppCore,
  kind: K,
  params: JobParamsInput<K>,
  code: ApiError['code']
): Promise<JobResults[K]> {
  const done = await app.jobs.wait(app.jobs.start(kind, params).id)
  const result = resultOf(done, kind)
  if (done.status !== 'completed' || !result)
    throw new ApiCallError({ code, message: done.error ?? `the ${kind} request was ${done.status}` })
  return result
}

/** The importers' view of a file or folder (an 'inspect' engine job); a source no importer accepts is a request error naming why. */
async function inspectDataset(app: AppCore, req: ParsedRequestOf<'inspectDataset'>): Promise<DatasetInspection> {
  const input = resolve(req.path)
  if (!existsSync(input))
    throw new ApiCallError({
      code: 'not_found',
      message: `${input} does not exist`,
      issues: [{ path: 'path', message: 'does not exist' }]
    })
  const params = {
    input,
    format: req.format,
    ...(req.csv ? { csv: resolve(req.csv) } : {}),
    ...(req.columns ? { columns: req.columns } : {})
  }
  return inEngine(app, 'inspect', params, 'invalid_request')
}

/** Reads a stored predictions CSV (workspace-relative), or answers not_found saying how to make it. */
async function readPredictions(app: AppCore, rel: string, what: string): Promise<ParsedPredictions> {
  const file = app.workspace.resolve(rel)
  if (!existsSync(file))
    throw new ApiCallError({
      code: 'not_found',
      message: `no test predictions of ${what} yet: fuse the run (Fusion view) to compute them`
    })
  return parsePredictionsCsv(await readFile(file, 'utf8'))
}

/** Confusion matrix and ROC curves of a member or soup of a run, from the test predictions its fuse job stored. */
async function modelCurves(
  app: AppCore,
  { runId, modelId }: ParsedRequestOf<'modelCurves'>
): Promise<ModelCurvesReport> {
  const run = app.store.runs.get(runId) ?? notFound('run', runId)
  const member = app.store.runs.getMember(modelId)
  const soup = member ? undefined : app.store.soups.get(modelId)
  if ((member?.runId ?? soup?.runId) !== runId) notFound(`model of run ${runId}`, modelId)
  const dataset = app.store.datasets.get(run.datasetId) ?? notFound('dataset', run.datasetId)
  const { predictions } = await readPredictions(
    app,
    predictionsPath(runId, modelId),
    member ? `member ${member.name}` : `soup ${soup!.name}`
  )
  const { modelCurves: curves } = await import('../engine/evaluate/curves')
  return { modelId, modelKind: member ? 'member' : 'soup', split: 'test', ...curves(predictions, dataset.classes) }
}

type Obj = Record<string, Json>
const asObj = (v: Json | undefined): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? v : null)

/** Answers of `compareMethods` already computed, by request (a finished fuse job never changes). */
const comparisons = new Map<string, Promise<MethodComparison>>()

/**
 * Paired bootstrap of two methods of a finished fuse job, on the test predictions it stored, with
 * its resamples and seed. Computed by a 'compare' job in an engine process (seconds on a large
 * test set), whose result this answers.
 */
function compareMethods(
  app: AppCore,
  { jobId, a, b, metric }: ParsedRequestOf<'compareMethods'>
): Promise<MethodComparison> {
  const job = app.store.jobs.get(jobId) ?? notFound('job', jobId)
  const result = resultOf(job, 'fuse')
  if (!result) throw new ApiCallError({ code: 'conflict', message: `job ${jobId} is not a finished fusion` })
  const files: Partial<Record<string, string>> = result.predictions ?? {}
  const fileOf = (m: string): string => {
    const f = files[m]
    if (typeof f !== 'string' || !existsSync(app.workspace.resolve(f)))
      throw new ApiCallError({
        code: 'not_found',
        message: `fusion ${jobId} kept no test predictions of method '${m}' (fuse the run again to compare it)`
      })
    return f
  }
  const params = asObj(job.params) ?? {}
  const selection = metric ?? (typeof result.metric === 'string' ? result.metric : 'acc')
  if (!isMetricId(selection))
    throw new ApiCallError({
      code: 'internal',
      message: `fusion ${jobId} recorded an unknown selection metric '${selection}'`
    })
  const request = {
    files: [fileOf(a), fileOf(b)] satisfies [string, string],
    metric: selection,
    resamples: typeof params.resamples === 'number' ? params.resamples : 1000,
    seed: typeof params.seed === 'number' ? params.seed : 0
  }
  const key = JSON.stringify([app.workspace.dir, request])
  let answer = comparisons.get(key)
  if (!answer) {
    answer = inEngine(app, 'compare', request, 'internal').then((r) => ({ a, b, metric: request.metric, ...r }))
    comparisons.set(key, answer)
    answer.catch(() => comparisons.delete(key))
  }
  return answer.then((r) => ({ ...r, a, b }))
}

const median = (v: number[]): number => {
  const s = [...v].sort((x, y) => x - y)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const sizeOf = (meta: Json): string => JSON.stringify(asObj(meta)?.size ?? null)

/**
 * A plan's members and epochs from the engine's plan builder, and its time from the median
 * seconds per training image per epoch of the finished members of past runs with the same
 * architecture, image size and backend (none measured yet: no time, and the reason).
 */
async function estimateRun(app: AppCore, req: ParsedRequestOf<'estimateRun'>): Promise<RunEstimate> {
  const dataset = app.store.datasets.get(req.datasetId) ?? notFound('dataset', req.datasetId)
  const { buildPlan, PLAN_DEFAULTS, PRETRAIN_DEFAULTS } = await import('../engine/fission/plans')
  const { datasetId: _d, plan: kind, arch, memoryLimitMiB, ...given } = req
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined))
  let plan: ReturnType<typeof buildPlan>
  try {
    plan = buildPlan({ ...PLAN_DEFAULTS, ...(kind === 'pretrain' ? PRETRAIN_DEFAULTS : {}), ...defined, kind })
  } catch (e) {
    const message = errorText(e)
    throw new ApiCallError({ code: 'invalid_request', message, issues: [{ path: message.split(':')[0], message }] })
  }
  // The backend decides which past speeds apply; an engine that cannot start leaves the time unknown, and says why.
  let unknownWhy: string | null = null
  const info = await (backend ??= probeBackend(app)).catch((e: unknown) => {
    unknownWhy = errorText(e)
    return { backend: 'unknown', device: 'cpu' } as Pick<BackendReport, 'backend' | 'device'>
  })
  const workers = info.device === 'gpu' ? 1 : availableParallelism()
  const members = plan.units.flatMap((u) => u.members)
  const trainImages = dataset.counts.train ?? 0
  const rates: number[] = []
  for (const run of app.store.runs.list({ limit: 1000 })) {
    const d = app.store.datasets.get(run.datasetId)
    const train = d?.counts.train ?? 0
    if (!d || train === 0 || sizeOf(d.meta) !== sizeOf(dataset.meta)) continue
    for (const m of app.store.runs.listMembers(run.id)) {
      if (
        m.status === 'done' &&
        m.backend === info.backend &&
        m.hyperparams.arch === arch &&
        m.epochs > 0 &&
        m.wallSeconds > 0
      )
        rates.push(m.wallSeconds / m.epochs / train)
    }
  }
  const epochs = plan.units.reduce((a, u) => a + u.epochs, 0)
  const side = JSON.parse(sizeOf(dataset.meta)) as number[] | null
  const px = side ? `${side.join(' × ')} px` : 'this image size'
  const rate = rates.length ? median(rates) : null
  const memory = await estimateMemory(
    app,
    asObj(dataset.meta)?.size ? dataset.meta : readJson(join(app.workspace.datasetDir(dataset.id), 'meta.json')),
    arch,
    plan.units.map((u) => u.batchSize),
    workers,
    info.backend,
    memoryLimitMiB
  )
  return {
    ...memory,
    members: members.length,
    groups: new Set(members.map((m) => m.group)).size,
    epochs,
    trainings: plan.units.length,
    workers,
    backend: info.backend,
    trainImages,
    seconds: rate === null ? null : (epochs * trainImages * rate) / Math.min(workers, plan.units.length),
    secondsPerImage: rate,
    basis:
      unknownWhy !== null
        ? `not estimated: the engine's backend is not known (${unknownWhy})`
        : rate === null
          ? `not measured yet: no finished ${arch} model at ${px} on ${info.backend} in this workspace (the first run measures it)`
          : `median speed of ${rates.length} finished ${arch} model${rates.length > 1 ? 's' : ''} at ${px} on ${info.backend} in this workspace`
  }
}

const readJson = (file: string): Json => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json
  } catch {
    return null
  }
}

/**
 * Expected peak memory per engine process: the architecture's footprint at the dataset's size
 * (measured once per workspace in a short-lived engine process, then cached; the first call for
 * an architecture and size takes seconds) and the micro-batches of the plan's largest batch.
 */
async function estimateMemory(
  app: AppCore,
  meta: Json,
  arch: string,
  batchSizes: number[],
  workers: number,
  backendName: string,
  limitMiB?: number
): Promise<Pick<RunEstimate, 'memory' | 'memoryNote'>> {
  const size = asObj(meta)?.size
  if (!Array.isArray(size) || typeof size[0] !== 'number' || typeof size[1] !== 'number')
    return { memory: null, memoryNote: 'the dataset has no image size' }
  try {
    const { footprintFor, planMemory, defaultMemoryLimit, MiB } = await import('../engine/models/memory')
    const fp = await footprintFor({
      arch,
      inputShape: [size[0], size[1], 3],
      backend: backendName,
      cacheDir: join(app.workspace.dir, 'cache', 'memory')
    })
    const limitBytes = limitMiB !== undefined ? limitMiB * MiB : defaultMemoryLimit(workers)
    const plans = [...new Set(batchSizes)].map((b) => planMemory(fp, b, limitBytes))
    const m = plans.find((x) => !x.fits) ?? plans.reduce((a, b) => (b.expectedPeakBytes > a.expectedPeakBytes ? b : a))
    return {
      memory: {
        limitMiB: Math.round(limitBytes / MiB),
        limitGiven: limitMiB !== undefined,
        expectedPeakMiB: Math.round(m.expectedPeakBytes / MiB),
        perImageMiB: Math.round(fp.trainPerImageBytes / MiB),
        batchSize: m.batchSize,
        microBatch: m.microBatch,
        microBatches: m.microBatches,
        fits: m.fits,
        message: m.message ?? null
      }
    }
  } catch (e) {
    return { memory: null, memoryNote: e instanceof Error ? e.message : String(e) }
  }
}

let backend: Promise<BackendReport> | undefined

/**
 * Asks an engine process which backend it gets (a 'probe' job: this process never loads
 * TensorFlow.js) once, and reports it; a failed probe is retried on the next call.
 */
function probeBackend(app: AppCore): Promise<BackendReport> {
  const probe = inEngine(app, 'probe', {}, 'unavailable')
  probe.catch(() => (backend = undefined))
  return probe
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiCallError) return e.toJSON()
  return { code: 'internal', message: errorText(e) }
}

/** Builds the dispatcher: look up, validate, run, and wrap every outcome in a Reply. */
export function createDispatcher(handlers: Handlers): Dispatch {
  return async (command, request, session) => {
    if (typeof command !== 'string' || !Object.hasOwn(commands, command)) {
      return { ok: false, error: { code: 'unknown_command', message: `unknown command '${String(command)}'` } }
    }
    const name = command as CommandName
    const parsed = commands[name].request.safeParse(request ?? {})
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error)
      return {
        ok: false,
        error: { code: 'invalid_request', message: `invalid request for ${name}: ${describeIssues(issues)}`, issues }
      }
    }
    try {
      const handler = handlers[name] as (req: unknown, s: Session) => unknown
      return { ok: true, data: await handler(parsed.data, session) }
    } catch (e) {
      return { ok: false, error: toApiError(e) }
    }
  }
}
