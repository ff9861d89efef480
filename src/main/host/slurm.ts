/**
 * The Slurm executor's submitting side: runs a plan as one Slurm job array (engine/fission/
 * slurm.ts) and is the only process that records anything in the store. It submits the array
 * (`sbatch --array`), follows each task through `squeue` (and `scontrol show job` once a task has
 * left the queue; `sacct` is not used, as many clusters have accounting off), ingests what the
 * tasks write (per-epoch history from each training's state/ checkpoint, result.json at its end)
 * through the same hooks as a local run, runs `scancel` on the array when the job is cancelled,
 * and on resume resubmits only the tasks that have not finished (tasks of an earlier submission
 * still in the queue are followed, not resubmitted). Fusion is not part of the array: it runs
 * afterwards in the submitting process (the fuse or pipeline job), on the ingested members.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { z } from 'zod'
import { slurmOptionsSchema } from '../../shared/jobs'
import type { Json } from '../../shared/records'
import type { BackendName } from '../engine/compute/index'
import type { EpochRecord } from '../engine/models/checkpoint'
import type { RunSetup, UnitOutcome, PlanOutcome, RunPlanOptions, UnitRunner } from '../engine/fission/run'
import type { Plan } from '../engine/fission/plans'
import type { QueueEntry, SlurmOptions, SlurmSetupFile } from '../engine/fission/slurm'

/** Slurm settings as params and in the workspace's slurm.json (all optional). */
export { slurmOptionsSchema }

export type SlurmParams = z.output<typeof slurmOptionsSchema>

/** The workspace setting: `<workspace>/slurm.json`, the defaults of every Slurm run (flags override). */
export const SLURM_SETTINGS_FILE = 'slurm.json'

/** Reads the workspace's Slurm defaults ({} when there is no slurm.json); names the file on bad content. */
export function readSlurmDefaults(workspaceDir: string): SlurmParams {
  const path = join(workspaceDir, SLURM_SETTINGS_FILE)
  if (!existsSync(path)) return {}
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new Error(`${SLURM_SETTINGS_FILE} in the workspace is not valid JSON: ${(e as Error).message}`)
  }
  const parsed = slurmOptionsSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new Error(`${SLURM_SETTINGS_FILE} in the workspace: ${issue.path.join('.') || '(top)'}: ${issue.message}`)
  }
  return parsed.data
}

/** Writes the workspace's Slurm defaults. */
export function writeSlurmDefaults(workspaceDir: string, o: SlurmParams): void {
  writeFileSync(join(workspaceDir, SLURM_SETTINGS_FILE), JSON.stringify(slurmOptionsSchema.parse(o), null, 2) + '\n')
}

/** Flags over the workspace defaults. */
export function mergeSlurm(defaults: SlurmParams, given: SlurmParams | undefined): SlurmParams {
  return { ...defaults, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) }
}

/** Node.js for the array tasks: $FF_SLURM_NODE, else this process's executable (not Electron's). */
export function taskNode(): string {
  if (process.env.FF_SLURM_NODE) return process.env.FF_SLURM_NODE
  if (process.versions.electron)
    throw new Error(
      'the Slurm executor needs a Node.js path on the shared filesystem for its array tasks: set FF_SLURM_NODE'
    )
  return process.execPath
}

/** The CLI entry the array tasks run: $FF_SLURM_CLI, else this checkout's bin/fissionfusion.mjs; must exist. */
async function taskCli(): Promise<string> {
  const { cliEntry } = await import('../engine/fission/slurm')
  const path = process.env.FF_SLURM_CLI || cliEntry()
  if (!existsSync(path))
    throw new Error(
      `the Slurm executor's array tasks run bin/fissionfusion.mjs of a FissionFusion checkout on the shared filesystem; none at ${path} (set FF_SLURM_CLI)`
    )
  return path
}

/** Runs a Slurm client command; a missing command or a failure is one clear sentence. */
export function slurmCommand(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20, timeout: 60_000, cwd }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout)
      const e = err as NodeJS.ErrnoException & { code?: string | number }
      if (e.code === 'ENOENT')
        return reject(
          new Error(
            `${cmd} not found: the Slurm client commands must be installed on the submitting machine (Debian: slurm-client)`
          )
        )
      const msg = (stderr || e.message).trim().split('\n').filter(Boolean).slice(-2).join(' ')
      reject(new Error(`${cmd} ${args.join(' ')}: ${msg}`))
    })
  })
}

/** What the job keeps between attempts. */
export interface SlurmState {
  [key: string]: Json
  /** Every sbatch of the run: the array job id and the task indices it ran. */
  submissions: { jobId: string; tasks: number[]; at: string }[]
  /** Last epoch recorded per unit (so a resumed job records each epoch once). */
  recorded: Record<string, number>
}

/** Options of {@link runPlanOnSlurm}. */
export interface SlurmRunOptions extends Pick<RunPlanOptions, 'signal' | 'onUnitStart' | 'onUnitEnd'> {
  options: SlurmParams
  backend: BackendName
  /** Whether this process's backend runs the native kernels (then every task must). */
  native?: boolean
  /** Job name (ff-<run id>). */
  name: string
  /** Runner of prelude units (the linear probe) on this machine. */
  preludeRunner: UnitRunner
  /** Called once per new epoch record (never twice for one epoch across resumes). */
  onEpoch: (unit: string, record: EpochRecord) => void
  state: { get(): SlurmState | null; set(s: SlurmState): void }
  log(level: 'info' | 'warn' | 'error', message: string): void
  /** The queue at each look: a line per unfinished task. */
  onQueue?: (summary: string, doneEpochs: number) => void
}

/** Outcome of a plan on Slurm. */
export interface SlurmPlanOutcome extends PlanOutcome {
  /** Each array task's units and how it ended in this attempt. */
  tasks: {
    index: number
    units: string[]
    status: 'done' | 'failed' | 'cancelled' | 'not run'
    reason: string | null
  }[]
  submissions: SlurmState['submissions']
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t)
        r()
      },
      { once: true }
    )
  })

/** The tasks of given array jobs in the queue (none once they have left it). */
async function queueOf(jobIds: string[]): Promise<QueueEntry[]> {
  const { parseSqueue, SQUEUE_FORMAT } = await import('../engine/fission/slurm')
  if (jobIds.length === 0) return []
  try {
    return parseSqueue(
      await slurmCommand('squeue', ['-h', '-r', '-j', [...new Set(jobIds)].join(','), '-o', SQUEUE_FORMAT])
    )
  } catch (e) {
    // squeue refuses ids it has already forgotten: then nothing of them is queued.
    if (/Invalid job id/i.test((e as Error).message)) return []
    throw e
  }
}

/** The script and array size a plan would be submitted with (no run is created). */
export async function slurmPreview(o: {
  plan: Plan
  runDir: string
  name: string
  options: SlurmParams
}): Promise<{ script: string; tasks: number; prelude: string[]; units: string[][] }> {
  const { batchScript, planTasks } = await import('../engine/fission/slurm')
  const { prelude, tasks } = planTasks(o.plan)
  const script = batchScript({
    name: o.name,
    runDir: o.runDir,
    tasks: tasks.length,
    node: taskNode(),
    cli: await taskCli(),
    options: scriptOptions(o.options)
  })
  return { script, tasks: tasks.length, prelude, units: tasks.map((t) => t.units) }
}

function scriptOptions(o: SlurmParams): SlurmOptions {
  const { pollSeconds: _p, ...rest } = o
  return rest
}

/** Runs (or resumes) a plan as a Slurm job array; see the file header. */
export async function runPlanOnSlurm(setup: RunSetup, o: SlurmRunOptions): Promise<SlurmPlanOutcome> {
  const slurm = await import('../engine/fission/slurm')
  const { membersOf, prepareStart, runPlan } = await import('../engine/fission/run')
  const trainer = await import('../engine/fission/trainer')
  // result.json may be read while a task is writing it: then it is not there yet.
  const readTrainResult = async (dir: string) => {
    try {
      return await trainer.readTrainResult(dir)
    } catch {
      return null
    }
  }
  const { runDir, plan } = setup
  const { prelude, tasks } = slurm.planTasks(plan)
  const unitOf = (id: string) => plan.units.find((u) => u.id === id)!
  const state: SlurmState = o.state.get() ?? { submissions: [], recorded: {} }
  const save = () => o.state.set(state)
  const outcomes = new Map<string, UnitOutcome>()
  const ok = (s: string) => s === 'done' || s === 'early-stopped'

  await prepareStart(setup)
  // 1. Units several lineages start from (the linear probe) train here first.
  if (prelude.length > 0) {
    o.log(
      'info',
      `training ${prelude.join(', ')} on this machine before submitting the array (every task starts from it)`
    )
    const pre = await runPlan(
      { ...setup, plan: { ...plan, units: plan.units.filter((u) => prelude.includes(u.id)) } },
      {
        runUnit: o.preludeRunner,
        signal: o.signal,
        onUnitStart: o.onUnitStart,
        onUnitEnd: o.onUnitEnd,
        onEpoch: o.onEpoch
      }
    )
    for (const u of pre.units) outcomes.set(u.unit, u)
    if (pre.status !== 'done')
      return {
        ...pre,
        tasks: tasks.map((t) => ({
          index: t.index,
          units: t.units,
          status: 'not run',
          reason: `needs ${prelude.join(', ')}`
        })),
        submissions: state.submissions
      }
  }

  // 2. The setup file and the batch script, on the shared filesystem.
  const slurmDir = join(runDir, 'slurm')
  mkdirSync(slurmDir, { recursive: true })
  const file: SlurmSetupFile = { setup, backend: o.backend, threads: 1, native: o.native === true, tasks }
  writeFileSync(join(slurmDir, 'setup.json'), JSON.stringify(file, null, 1))
  const scriptPath = join(slurmDir, 'job.sh')
  writeFileSync(
    scriptPath,
    slurm.batchScript({
      name: o.name,
      runDir,
      tasks: tasks.length,
      node: taskNode(),
      cli: await taskCli(),
      options: scriptOptions(o.options)
    }),
    { mode: 0o755 }
  )

  // 3. Ingestion: what the tasks' files say, recorded once per epoch.
  const started = new Set<string>()
  const ingest = async (): Promise<number> => {
    let epochs = 0
    for (const task of tasks)
      for (const id of task.units) {
        const unit = unitOf(id)
        const dir = join(runDir, unit.dir)
        const result = outcomes.has(id) ? outcomes.get(id)!.result : await readTrainResult(dir)
        const history = result ? result.history : ((await slurm.unitTrainerState(runDir, unit.dir))?.history ?? [])
        epochs += history.length
        if (outcomes.has(id)) continue
        if (history.length > 0 && !started.has(id)) {
          started.add(id)
          o.onUnitStart?.(id)
        }
        let dirty = false
        for (const r of history) {
          if (r.epoch <= (state.recorded[id] ?? 0)) continue
          o.onEpoch(id, r)
          state.recorded[id] = r.epoch
          dirty = true
        }
        if (dirty) save()
        if (result) {
          const out = { unit: id, result, members: await membersOf(setup, unit, result) }
          outcomes.set(id, out)
          o.onUnitEnd?.(out)
        }
      }
    return epochs
  }
  const taskDone = async (t: { units: string[] }) => {
    for (const id of t.units) {
      const r = outcomes.get(id)?.result ?? (await readTrainResult(join(runDir, unitOf(id).dir)))
      if (!r || !ok(r.status)) return false
    }
    return true
  }
  await ingest()

  // 4. Submit what is neither finished nor still queued from an earlier submission.
  const active = new Map<number, string>()
  const earlier = state.submissions.map((s) => s.jobId)
  for (const q of await queueOf(earlier)) {
    if (
      tasks.some((t) => t.index === q.index) &&
      state.submissions.some((s) => s.jobId === q.jobId && s.tasks.includes(q.index))
    )
      active.set(q.index, q.jobId)
  }
  if (active.size > 0)
    o.log(
      'info',
      `following ${active.size} array task(s) still queued from an earlier submission: ${[...active].map(([i, j]) => `${j}_${i}`).join(', ')}`
    )
  const todo: number[] = []
  for (const t of tasks) if (!active.has(t.index) && !(await taskDone(t))) todo.push(t.index)
  if (todo.length > 0 && !o.signal?.aborted) {
    const out = await slurmCommand('sbatch', ['--parsable', `--array=${slurm.arraySpec(todo)}`, 'job.sh'], slurmDir)
    const jobId = out.trim().split(';')[0]
    if (!/^\d+$/.test(jobId)) throw new Error(`sbatch answered '${out.trim()}', not a job id`)
    state.submissions.push({ jobId, tasks: todo, at: new Date().toISOString() })
    save()
    for (const i of todo) active.set(i, jobId)
    o.log(
      'info',
      `submitted job array ${jobId} with ${todo.length} task(s) (--array=${slurm.arraySpec(todo)}) of ${tasks.length} (batch script: slurm/job.sh in the run folder)`
    )
  }

  // 5. Follow the queue until every active task has left it.
  const ended = new Map<number, { status: 'done' | 'failed' | 'cancelled'; reason: string | null }>()
  const seen = new Map<number, string>()
  const pollMs = (o.options.pollSeconds ?? 2) * 1000
  let cancelSent = false
  let queueErrors = 0
  while (active.size > 0) {
    if (o.signal?.aborted && !cancelSent) {
      cancelSent = true
      const ids = [...new Set(active.values())]
      o.log('info', `cancelling: scancel ${ids.join(' ')}`)
      await slurmCommand('scancel', ids).catch((e: Error) => o.log('warn', e.message))
    }
    let queue: QueueEntry[]
    try {
      queue = await queueOf([...new Set(active.values())])
      queueErrors = 0
    } catch (e) {
      if (++queueErrors >= 10)
        throw new Error(`lost contact with Slurm: ${(e as Error).message}; resume the job to follow the array again`)
      o.log('warn', `${(e as Error).message} (retrying)`)
      await sleep(pollMs)
      continue
    }
    const doneEpochs = await ingest()
    const lines: string[] = []
    for (const [index, jobId] of [...active]) {
      const q = queue.find((e) => e.jobId === jobId && e.index === index)
      const status = slurm.readTaskStatus(runDir, index)
      if (q) {
        const what = `${q.state}${q.state === 'PENDING' && q.reason !== 'None' ? ` (${q.reason})` : q.nodes ? ` on ${q.nodes}` : ''}`
        if (seen.get(index) !== what) {
          seen.set(index, what)
          o.log('info', `array task ${jobId}_${index} (${tasks[index].units.join(' → ')}): ${what}`)
        }
        const unit =
          status?.jobId === jobId && status.unit && status.state === 'running'
            ? `, ${status.unit} epoch ${status.epoch + 1}/${unitOf(status.unit)?.epochs ?? '?'}${status.iteration > 0 ? ` step ${status.iteration}/${status.iterations}` : ''}`
            : ''
        lines.push(`task ${index}: ${what}${unit}`)
        continue
      }
      active.delete(index)
      await ingest()
      if (await taskDone(tasks[index])) {
        ended.set(index, { status: 'done', reason: null })
        continue
      }
      let why: string
      try {
        why = slurm.describeEnd(
          slurm.parseScontrol(await slurmCommand('scontrol', ['show', 'job', '-o', `${jobId}_${index}`]))
        )
      } catch {
        why = 'Slurm no longer knows the task (it ended before MinJobAge)'
      }
      const own = status?.jobId === jobId && status.error ? `; the task said: ${status.error}` : ''
      const tail = !own && status?.jobId !== jobId ? slurm.taskLogTail(runDir, index) : ''
      const reason = `${why}${own}${tail ? `; its log ends: ${tail}` : ''}`
      ended.set(index, { status: o.signal?.aborted ? 'cancelled' : 'failed', reason })
      o.log(
        o.signal?.aborted ? 'info' : 'error',
        `array task ${jobId}_${index} (${tasks[index].units.join(' → ')}) did not finish: ${reason}`
      )
    }
    // Many tasks: counts by state, then the first few running ones.
    const summary =
      lines.length <= 4
        ? lines.join('; ')
        : [
            Object.entries(
              queue.reduce<Record<string, number>>(
                (a, q) => ({ ...a, [q.state.toLowerCase()]: (a[q.state.toLowerCase()] ?? 0) + 1 }),
                {}
              )
            )
              .map(([k, n]) => `${n} ${k}`)
              .join(', '),
            ...lines.filter((l) => l.includes('RUNNING')).slice(0, 3)
          ].join('; ')
    o.onQueue?.(summary, doneEpochs)
    if (active.size > 0) await sleep(pollMs, cancelSent ? undefined : o.signal)
  }
  await ingest()

  // 6. The outcome, in the shape of a local run's.
  const units = plan.units.map((u) => outcomes.get(u.id)).filter((u): u is UnitOutcome => u !== undefined)
  const skipped: PlanOutcome['skipped'] = []
  const taskRows: SlurmPlanOutcome['tasks'] = []
  for (const t of tasks) {
    const e = ended.get(t.index)
    const done = await taskDone(t)
    taskRows.push({
      index: t.index,
      units: t.units,
      status: done ? 'done' : (e?.status ?? 'not run'),
      reason: done ? null : (e?.reason ?? (o.signal?.aborted ? 'cancelled before submission' : 'not run'))
    })
    if (!done)
      for (const id of t.units) if (!outcomes.has(id)) skipped.push({ unit: id, reason: e?.reason ?? 'not run' })
  }
  const cancelled = o.signal?.aborted === true
  return {
    status: cancelled
      ? 'cancelled'
      : skipped.length > 0 || units.some((u) => !ok(u.result.status))
        ? 'partial'
        : 'done',
    units,
    skipped,
    members: units.flatMap((u) => u.members),
    tasks: taskRows,
    submissions: state.submissions
  }
}
