/**
 * The Slurm executor's engine side (no store, no host): which array task trains which units,
 * the batch script, parsing `squeue` / `scontrol` output, and the array task itself.
 *
 * A plan becomes one job array with one task per independent training lineage: a grid member,
 * or an FGG base followed by its cyclic phase. A unit several lineages depend on (the linear
 * probe) is a prelude the submitting machine trains before it submits. Each task is one engine
 * process, `node <checkout>/bin/fissionfusion.mjs slurm-task <setup.json> <index>`, run by its
 * absolute path on the shared filesystem. A task writes only its units' training folders (the
 * trainer's checkpoints, per-epoch history and result.json) and its own status file
 * `slurm/task-<i>.json`; it never opens the workspace database.
 *
 * Files under the run folder:
 *   slurm/setup.json      the RunSetup, backend and task table (written by the submitter)
 *   slurm/job.sh          the batch script
 *   slurm/task-<i>.log    the task's stdout/stderr (appended across resubmissions)
 *   slurm/task-<i>.json   the task's status ({@link TaskStatus}), written atomically by the task
 */
import { existsSync, promises as fsp, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BackendName } from '../compute/index'
import { readCheckpointMeta, type TrainerState } from '../models/checkpoint'
import type { Plan } from './plans'
import type { RunSetup } from './run'

/** Slurm settings of a plan's job array (flags, else the workspace's slurm.json). */
export interface SlurmOptions {
  partition?: string
  account?: string
  /** Time limit per task, in sbatch's syntax (e.g. 2:00:00, 1-00:00:00, 30). */
  time?: string
  cpusPerTask?: number
  /** Memory per task, in sbatch's syntax (e.g. 4G, 4000M). */
  mem?: string
  /** Generic resources per task, e.g. gpu:1. */
  gres?: string
  /** More sbatch arguments, one per item (each becomes an #SBATCH line). */
  extra?: string[]
}

/** One array task: the units it trains, in order. */
export interface SlurmTask {
  index: number
  units: string[]
}

/** The task table of a plan. */
export interface SlurmTaskPlan {
  /** Units trained on the submitting machine before the array (units several lineages start from). */
  prelude: string[]
  tasks: SlurmTask[]
}

/** What the submitter writes to slurm/setup.json for the tasks. */
export interface SlurmSetupFile {
  setup: RunSetup
  backend: BackendName
  threads: number
  /** Whether the submitter's wasm backend runs the native kernels (a task must too, or fail). */
  native?: boolean
  tasks: SlurmTask[]
}

/** A task's status file. */
export interface TaskStatus {
  state: 'running' | 'done' | 'cancelled' | 'failed'
  index: number
  host: string
  pid: number
  /** SLURM_ARRAY_JOB_ID of the attempt that wrote it. */
  jobId: string | null
  unit: string | null
  epoch: number
  iteration: number
  iterations: number
  /** Epoch each unit resumed from (its last checkpoint) in this attempt; 0 = from the start. */
  resumedFrom: Record<string, number>
  backend: string | null
  error?: string
  updatedAt: string
}

/** Groups a plan's units into lineages (see the file header). */
export function planTasks(plan: Plan): SlurmTaskPlan {
  const dependents = new Map<string, string[]>()
  for (const u of plan.units) for (const d of u.dependsOn) dependents.set(d, [...(dependents.get(d) ?? []), u.id])
  const prelude = new Set(plan.units.filter((u) => (dependents.get(u.id)?.length ?? 0) > 1).map((u) => u.id))
  // A prelude's prerequisites are prelude too.
  for (let grew = true; grew;) {
    grew = false
    for (const u of plan.units)
      if (prelude.has(u.id))
        for (const d of u.dependsOn)
          if (!prelude.has(d)) {
            prelude.add(d)
            grew = true
          }
  }
  const tasks: SlurmTask[] = []
  const chainOf = new Map<string, SlurmTask>()
  for (const u of plan.units) {
    if (prelude.has(u.id)) continue
    const inner = u.dependsOn.filter((d) => !prelude.has(d))
    if (inner.length > 1)
      throw new Error(
        `unit ${u.id} depends on several trainings (${inner.join(', ')}): not a lineage a Slurm array task can train`
      )
    const parent = inner.length === 1 ? chainOf.get(inner[0]) : undefined
    if (inner.length === 1 && !parent)
      throw new Error(`unit ${u.id} comes before its dependency ${inner[0]} in the plan`)
    const task = parent ?? { index: tasks.length, units: [] }
    if (!parent) tasks.push(task)
    task.units.push(u.id)
    chainOf.set(u.id, task)
  }
  return { prelude: plan.units.filter((u) => prelude.has(u.id)).map((u) => u.id), tasks }
}

/** A compact --array value: [0,1,2,5] → "0-2,5". */
export function arraySpec(indices: number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length;) {
    let j = i
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return parts.join(',')
}

/** This checkout's CLI entry (bin/fissionfusion.mjs), absolute. */
export function cliEntry(): string {
  return fileURLToPath(new URL('../../../../bin/fissionfusion.mjs', import.meta.url))
}

/** Quotes a word for bash. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/** Inputs of {@link batchScript}. */
export interface ScriptInput {
  /** Job name (e.g. ff-<run id>). */
  name: string
  /** Run folder (absolute, on the shared filesystem). */
  runDir: string
  /** Number of array tasks. */
  tasks: number
  /** Node executable the tasks run, absolute. */
  node: string
  /** bin/fissionfusion.mjs of this checkout, absolute. */
  cli: string
  options: SlurmOptions
}

/** Rejects option values that would break a #SBATCH line. */
function checkOption(name: string, v: string): string {
  if (/[\n\r]/.test(v) || v.trim() === '') throw new Error(`slurm ${name}: '${v}' is empty or spans several lines`)
  return v.trim()
}

/** The batch script of a plan's job array. */
export function batchScript(s: ScriptInput): string {
  const slurmDir = join(s.runDir, 'slurm')
  const o = s.options
  const lines = [
    '#!/bin/bash',
    `#SBATCH --job-name=${checkOption('job name', s.name)}`,
    `#SBATCH --array=${arraySpec([...Array(s.tasks).keys()])}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${o.cpusPerTask ?? 1}`,
    `#SBATCH --chdir=${slurmDir}`,
    `#SBATCH --output=${join(slurmDir, 'task-%a.log')}`,
    '#SBATCH --open-mode=append'
  ]
  if (o.partition) lines.push(`#SBATCH --partition=${checkOption('partition', o.partition)}`)
  if (o.account) lines.push(`#SBATCH --account=${checkOption('account', o.account)}`)
  if (o.time) lines.push(`#SBATCH --time=${checkOption('time', o.time)}`)
  if (o.mem) lines.push(`#SBATCH --mem=${checkOption('mem', o.mem)}`)
  if (o.gres) lines.push(`#SBATCH --gres=${checkOption('gres', o.gres)}`)
  for (const x of o.extra ?? []) lines.push(`#SBATCH ${checkOption('extra sbatch argument', x)}`)
  const q = shellQuote
  lines.push(
    '',
    '# FissionFusion: one array task trains one lineage of the run (see slurm/setup.json) and writes',
    '# only its training folders and slurm/task-<i>.json; the submitting process records the results.',
    `NODE=${q(s.node)}`,
    `CLI=${q(s.cli)}`,
    `SETUP=${q(join(slurmDir, 'setup.json'))}`,
    'TASK="${SLURM_ARRAY_TASK_ID:?not started by Slurm as an array task}"',
    'fail() { echo "fissionfusion: array task $TASK on $(hostname): $*" >&2; exit 2; }',
    'echo "fissionfusion: array task $TASK (job ${SLURM_ARRAY_JOB_ID:-?}) starts on $(hostname) at $(date -u +%FT%TZ)"',
    '[ -x "$NODE" ] || fail "cannot run Node.js at $NODE: this node needs the same Node.js at that path (or give --sbatch-args to pick nodes that have it)"',
    '[ -r "$CLI" ] || fail "cannot read $CLI: the FissionFusion installation must be on a filesystem every node sees"',
    '[ -r "$SETUP" ] || fail "cannot read $SETUP: the workspace must be on a filesystem every node sees"',
    '"$NODE" -e \'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)\' || fail "$NODE is not Node.js 20 or later"',
    'exec "$NODE" "$CLI" slurm-task "$SETUP" "$TASK"',
    ''
  )
  return lines.join('\n')
}

/** One array task as squeue shows it. */
export interface QueueEntry {
  jobId: string
  index: number
  /** PENDING, RUNNING, COMPLETING, ... */
  state: string
  /** Why it waits (Resources, Priority, Dependency, ...) or None. */
  reason: string
  nodes: string
}

/** The squeue format {@link parseSqueue} reads. */
export const SQUEUE_FORMAT = '%i|%T|%r|%N'

/**
 * Parses `squeue -h -r -o '%i|%T|%r|%N'` (one line per array task: `<job>_<index>`). A line of a
 * pending range that squeue did not split (`<job>_[2-4]`) gives one entry per index.
 */
export function parseSqueue(text: string): QueueEntry[] {
  const out: QueueEntry[] = []
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const [id, state = '', reason = '', nodes = ''] = line.split('|')
    const m = /^(\d+)_(\d+|\[([^\]]+)\])$/.exec(id)
    if (!m) continue
    const indices = m[3] ? expandArray(m[3].replace(/%\d+$/, '')) : [Number(m[2])]
    for (const index of indices) out.push({ jobId: m[1], index, state, reason, nodes })
  }
  return out
}

/** Expands "0-2,5" (optionally with :step) to its indices. */
export function expandArray(spec: string): number[] {
  const out: number[] = []
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim())
    if (!m) throw new Error(`array index list '${spec}': cannot read '${part}'`)
    const [a, b, step] = [
      Number(m[1]),
      m[2] === undefined ? Number(m[1]) : Number(m[2]),
      m[3] === undefined ? 1 : Number(m[3])
    ]
    for (let i = a; i <= b; i += step) out.push(i)
  }
  return out
}

/** `scontrol show job -o <id>` as key → value (the first record). */
export function parseScontrol(text: string): Record<string, string> {
  const line = text.split('\n').find((l) => l.includes('JobId=')) ?? ''
  const out: Record<string, string> = {}
  // Values run to the next ` Key=` (some, like Command, may hold spaces).
  const re = /(?:^|\s)([A-Za-z/:]+)=(.*?)(?=\s[A-Za-z/:]+=|$)/g
  for (let m = re.exec(line); m; m = re.exec(line)) out[m[1]] = m[2]
  return out
}

/** Slurm's words for a job state that ended a task before it finished. */
export function describeEnd(job: Record<string, string>): string {
  const state = job.JobState ?? 'UNKNOWN'
  const why: Record<string, string> = {
    CANCELLED: 'cancelled (scancel)',
    TIMEOUT: 'killed at its time limit',
    NODE_FAIL: 'killed by a node failure',
    PREEMPTED: 'preempted',
    OUT_OF_MEMORY: 'killed for using more memory than it asked',
    BOOT_FAIL: 'its node failed to boot',
    DEADLINE: 'killed at its deadline',
    FAILED: 'failed',
    COMPLETED: 'completed'
  }
  const reason = job.Reason && job.Reason !== 'None' ? `, reason ${job.Reason}` : ''
  const exit = job.ExitCode && job.ExitCode !== '0:0' ? `, exit code ${job.ExitCode}` : ''
  return `Slurm state ${state}: ${why[state] ?? state.toLowerCase()}${reason}${exit}`
}

/** Where the status file of task `index` lives. */
export function taskStatusPath(runDir: string, index: number): string {
  return join(runDir, 'slurm', `task-${index}.json`)
}

/** Where the log of task `index` lives. */
export function taskLogPath(runDir: string, index: number): string {
  return join(runDir, 'slurm', `task-${index}.log`)
}

/** Reads a task's status file, or null (absent or being replaced). */
export function readTaskStatus(runDir: string, index: number): TaskStatus | null {
  const path = taskStatusPath(runDir, index)
  if (!existsSync(path)) return null
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TaskStatus
  } catch {
    return null
  }
}

/** The last non-empty lines of a task's log ('' when none). */
export function taskLogTail(runDir: string, index: number, lines = 3): string {
  const path = taskLogPath(runDir, index)
  if (!existsSync(path)) return ''
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' | ')
}

/** The trainer state of a unit's last completed epoch (its state/ checkpoint), or null. */
export async function unitTrainerState(runDir: string, unitDir: string): Promise<TrainerState | null> {
  try {
    const meta = await readCheckpointMeta(join(runDir, unitDir, 'state'))
    return (meta.trainer as TrainerState | undefined) ?? null
  } catch {
    return null
  }
}

async function writeStatus(runDir: string, s: TaskStatus): Promise<void> {
  const path = taskStatusPath(runDir, s.index)
  const tmp = `${path}.tmp-${process.pid}`
  await fsp.writeFile(tmp, JSON.stringify(s))
  await fsp.rename(tmp, path)
}

/**
 * Runs array task `index` of the setup file (the `slurm-task` command): its units in order,
 * each resuming from its last checkpoint, on the submitter's backend. SIGTERM (scancel, the
 * time limit, preemption) stops it between steps. Resolves with its final status.
 */
export async function runSlurmTask(setupPath: string, index: number): Promise<TaskStatus> {
  const file = JSON.parse(await fsp.readFile(setupPath, 'utf8')) as SlurmSetupFile
  const task = file.tasks.find((t) => t.index === index)
  if (!task) throw new Error(`${setupPath}: no array task ${index} (the plan has ${file.tasks.length})`)
  const { setup } = file
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  const status: TaskStatus = {
    state: 'running',
    index,
    host: hostname(),
    pid: process.pid,
    jobId: process.env.SLURM_ARRAY_JOB_ID ?? null,
    unit: null,
    epoch: 0,
    iteration: 0,
    iterations: 0,
    resumedFrom: {},
    backend: null,
    updatedAt: new Date().toISOString()
  }
  // Writes are chained, so two never race on the temporary file.
  let writing: Promise<void> = Promise.resolve()
  const save = (): Promise<void> => {
    const snapshot: TaskStatus = {
      ...status,
      resumedFrom: { ...status.resumedFrom },
      updatedAt: new Date().toISOString()
    }
    writing = writing
      .then(() => writeStatus(setup.runDir, snapshot))
      .catch((e: unknown) => console.error(`fissionfusion: status file: ${String(e)}`))
    return writing
  }
  let lastWrite = 0
  try {
    await save()
    const { initBackend } = await import('../compute/index')
    const { runUnitHere } = await import('./run')
    const info = await initBackend({ backend: file.backend, threads: file.threads })
    status.backend = info.backend
    if (info.backend !== file.backend)
      throw new Error(`backend ${file.backend} (the submitter's) is not available here; got ${info.backend}`)
    if (file.native && !info.native?.loaded) {
      throw new Error(
        `the native kernels do not load on this node (${info.native?.reason ?? 'unknown reason'}), so it would train on the slower JS kernels; build them for this node, or submit with FF_NATIVE=0 to use the JS kernels everywhere`
      )
    }
    if (info.warning) console.error(`fissionfusion: ${info.warning}`)
    for (const unitId of task.units) {
      const unit = setup.plan.units.find((u) => u.id === unitId)
      if (!unit) throw new Error(`unit ${unitId} is not in the plan of ${setupPath}`)
      // A unit that finished in an earlier attempt is not run again.
      if (existsSync(join(setup.runDir, unit.dir, 'result.json'))) continue
      const before = await unitTrainerState(setup.runDir, unit.dir)
      status.unit = unitId
      status.epoch = before?.epoch ?? 0
      status.iteration = 0
      status.resumedFrom[unitId] = before?.epoch ?? 0
      await save()
      console.error(`fissionfusion: ${unitId}: ${before ? `resuming after epoch ${before.epoch}` : 'starting'}`)
      const out = await runUnitHere(setup, unitId, {
        signal: controller.signal,
        onStep: (_u, p) => {
          status.epoch = p.epoch - 1
          status.iteration = p.iteration
          status.iterations = p.iterations
          if (Date.now() - lastWrite > 1000) {
            lastWrite = Date.now()
            void save()
          }
        },
        onEpoch: (_u, r) => {
          status.epoch = r.epoch
          status.iteration = 0
          console.error(
            `fissionfusion: ${unitId} epoch ${r.epoch}: val loss ${r.val.loss.toFixed(4)}, ${r.seconds.toFixed(1)} s`
          )
          lastWrite = Date.now()
          void save()
        }
      })
      if (out.result.status === 'cancelled') {
        status.state = 'cancelled'
        status.error = 'stopped by a signal (scancel, time limit or preemption)'
        break
      }
      if (out.result.status === 'diverged') {
        status.state = 'failed'
        status.error = `${unitId}: ${out.result.reason}`
        break
      }
    }
    if (status.state === 'running') status.state = 'done'
  } catch (e) {
    status.state = 'failed'
    status.error = e instanceof Error ? e.message : String(e)
  } finally {
    process.off('SIGTERM', stop)
    process.off('SIGINT', stop)
  }
  await save()
  return status
}
