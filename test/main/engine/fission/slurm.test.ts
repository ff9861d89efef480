// The Slurm executor against a real single-node cluster (test/fixtures/slurm.ts), through the
// CLI as a user runs it, on a RetinaMNIST subset (256 train / 64 val images, smallcnn × 0.5):
//  - `--dry-run --json` gives the batch script and the array size (the plan's training lineages);
//  - an FGG plan of 2 rates (2 base + 5 cyclic epochs) run with --executor slurm, its tasks
//    running as `nobody` while the workspace database is root's and read-only to them, ends
//    with the same member weights and validation metrics as --executor local;
//  - scancel of one array task mid-epoch, then `job resume`: only that task is resubmitted, it
//    resumes from its checkpoint, the final weights equal the uninterrupted run's, and every
//    epoch is recorded once.
import { spawn } from 'node:child_process'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import type { TaskStatus } from '../../../../src/main/engine/fission/slurm'
import { Store } from '../../../../src/main/store'
import { CLI, cliGroup, ROOT } from '../../../fixtures/process'
import { slurmMissing, startSlurmCluster, type SlurmCluster } from '../../../fixtures/slurm'

const RETINA = join(ROOT, '..', 'shared', 'data', 'medmnist', 'retinamnist.npz')
const CI = process.env.CI === 'true'
const missing =
  slurmMissing() ??
  (existsSync(RETINA) ? null : `missing ${RETINA}`) ??
  (existsSync('/usr/bin/python3') ? null : 'missing /usr/bin/python3')
// With CI=true a missing cluster or data set is a failure, never a skip.
const run = CI || !missing ? describe : describe.skip

const PLAN = [
  'fission',
  '--dataset',
  'retina',
  '--plan',
  'fgg',
  '--lrs',
  '1e-3,1e-4',
  '--epochs',
  '2',
  '--fgg-epochs',
  '5',
  '--cycle',
  '4',
  '--batch-size',
  '32',
  '--width',
  '0.5'
]
const MEMBERS = ['fgg-lr1e-3-e0', 'fgg-lr1e-3-e1', 'fgg-lr1e-3-e5', 'fgg-lr1e-4-e0', 'fgg-lr1e-4-e1', 'fgg-lr1e-4-e5']
const UNITS = { 'fgg-base-lr1e-3': 2, 'fgg-cyclic-lr1e-3': 5, 'fgg-base-lr1e-4': 2, 'fgg-cyclic-lr1e-4': 5 }

let cluster: SlurmCluster
let template: string
const dirs: string[] = []

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the CLI (umask 000 when asked, so the files it creates are writable by the tasks' user). */
function cli(
  args: string[],
  o: { umask0?: boolean; env?: NodeJS.ProcessEnv } = {}
): { pid: number; done: Promise<Exit> } {
  const argv = ['--backend', 'wasm', ...args]
  const child = o.umask0
    ? spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, CLI, ...argv], {
        cwd: ROOT,
        env: { ...process.env, ...cluster.env, ...o.env }
      })
    : spawn(process.execPath, [CLI, ...argv], { cwd: ROOT, env: { ...process.env, ...cluster.env, ...o.env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  return {
    pid: child.pid!,
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
  }
}

async function cliOk(args: string[], o: { umask0?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<unknown> {
  const r = await cli([...args, '--json'], o).done
  if (r.code !== 0) throw new Error(`fissionfusion ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}`)
  return JSON.parse(r.stdout)
}

/** A copy of the template workspace (RetinaMNIST subset imported as 'retina'). */
function workspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'ff-slurm-ws-'))
  dirs.push(ws)
  cpSync(template, ws, { recursive: true })
  return ws
}

interface FissionJson {
  run: {
    id: string
    status: string
    executor: string
    slurm: { tasks: { index: number; status: string }[]; submissions: { jobId: string; tasks: number[] }[] } | null
  }
  members: { id: string; group: string; epoch: number; val: Record<string, number> }[]
}

async function weightsOf(ws: string, runId: string, unitDir: string): Promise<Float32Array[]> {
  const ck = await readCheckpoint(join(ws, 'runs', runId, unitDir))
  return ck.weights.map((w) => w.data)
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

run('Slurm executor on a single-node cluster', () => {
  let local: FissionJson
  let localWs: string

  beforeAll(async () => {
    if (missing) throw new Error(`cannot run the Slurm tests: ${missing}`)
    cluster = await startSlurmCluster()
    const data = mkdtempSync(join(tmpdir(), 'ff-slurm-data-'))
    dirs.push(data)
    // A small RetinaMNIST subset keeps the test short: 256 train, 64 val, 64 test images.
    execFileSync('/usr/bin/python3', [
      '-c',
      [
        'import sys, numpy as np',
        'd = np.load(sys.argv[1])',
        "np.savez(sys.argv[2], **{f'{s}_{k}': d[f'{s}_{k}'][:n] for s, n in (('train', 256), ('val', 64), ('test', 64)) for k in ('images', 'labels')})"
      ].join('\n'),
      RETINA,
      join(data, 'retina.npz')
    ])
    template = join(data, 'ws')
    await cliOk(['--workspace', template, 'import', join(data, 'retina.npz'), '--name', 'retina'])
    // The workspace's Slurm defaults (flags override them): the test partition, a quick look at the queue.
    writeFileSync(join(template, 'slurm.json'), JSON.stringify({ partition: 'test', mem: '900M', pollSeconds: 1 }))
  }, 180_000)

  afterAll(async () => {
    await cluster?.stop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }, 120_000)

  it('--dry-run --json prints the batch script and one array task per training lineage, submitting nothing', async () => {
    const ws = workspace()
    const fgg = (await cliOk([
      '--workspace',
      ws,
      ...PLAN,
      '--executor',
      'slurm',
      '--time',
      '10:00',
      '--mem',
      '1500M',
      '--dry-run'
    ])) as { script: string; tasks: number }
    expect(Object.keys(fgg).sort()).toEqual(['script', 'tasks'])
    expect(fgg.tasks).toBe(2)
    expect(fgg.script).toContain('#SBATCH --array=0-1')
    // partition from the workspace's slurm.json, time and memory from the flags (over its 900M)
    expect(fgg.script).toContain('#SBATCH --partition=test')
    expect(fgg.script).toContain('#SBATCH --time=10:00')
    expect(fgg.script).toContain('#SBATCH --mem=1500M')
    expect(fgg.script).not.toContain('900M')
    expect(fgg.script).toContain(`CLI=${CLI}`)
    expect(fgg.script).toContain(`NODE=${process.execPath}`)
    const grid = (await cliOk([
      '--workspace',
      ws,
      'fission',
      '--dataset',
      'retina',
      '--plan',
      'grid',
      '--lrs',
      '1e-3,1e-4,1e-5',
      '--seeds',
      '0,1',
      '--augs',
      'minimal,heavy',
      '--executor',
      'slurm',
      '--dry-run'
    ])) as { tasks: number }
    expect(grid.tasks).toBe(3 * 2 * 2)
    expect(
      execFileSync('squeue', ['-h'], { env: { ...process.env, ...cluster.env } })
        .toString()
        .trim()
    ).toBe('')
    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      expect(store.runs.list()).toHaveLength(0)
    } finally {
      store.close()
    }
  })

  it('the same member weights and validation metrics as --executor local; tasks run as another user with the database read-only to them', async () => {
    localWs = workspace()
    local = (await cliOk(['--workspace', localWs, ...PLAN, '--executor', 'local', '--workers', '2'])) as FissionJson
    expect(local.run.status).toBe('done')

    const ws = workspace()
    // Everything but the database is writable by the tasks' user (nobody); the database stays root's, 0644.
    for (const d of [ws, join(ws, 'runs'), join(ws, 'datasets'), join(ws, 'exports')]) chmodSync(d, 0o777)
    chmodSync(join(ws, 'fissionfusion.db'), 0o644)
    const r = (await cliOk(
      ['--workspace', ws, ...PLAN, '--executor', 'slurm', '--sbatch-args', '--uid=nobody --gid=nogroup'],
      { umask0: true }
    )) as FissionJson
    expect(r.run).toMatchObject({ status: 'done', executor: 'slurm' })
    expect(r.run.slurm!.submissions).toHaveLength(1)
    expect(r.run.slurm!.submissions[0].tasks).toEqual([0, 1])

    // The tasks ran as nobody (they own what they wrote) and could not have written the database.
    const runDir = join(ws, 'runs', r.run.id)
    const script = readFileSync(join(runDir, 'slurm', 'job.sh'), 'utf8')
    for (const line of [
      '#SBATCH --partition=test',
      '#SBATCH --mem=900M',
      '#SBATCH --uid=nobody',
      '#SBATCH --gid=nogroup'
    ])
      expect(script).toContain(line)
    expect(statSync(join(runDir, 'fgg', 'cyclic-1e-4', 'result.json')).uid).toBe(65534)
    expect(statSync(join(runDir, 'fgg', 'base-1e-3', 'best', 'weights.bin')).uid).toBe(65534)
    for (const f of readdirSync(ws).filter((n) => n.startsWith('fissionfusion.db'))) {
      const st = statSync(join(ws, f))
      expect([f, st.uid, st.mode & 0o777]).toEqual([f, 0, 0o644])
    }

    // Same members, same validation metrics, same weights, bit for bit.
    const key = (m: FissionJson['members'][number]) => m.id.replace(/^run_[^-]+-/, '')
    expect(r.members.map(key).sort()).toEqual(MEMBERS)
    for (const m of r.members) {
      const l = local.members.find((x) => key(x) === key(m))!
      expect(m.val).toEqual(l.val)
    }
    for (const dir of [
      'fgg/base-1e-3/best',
      'fgg/base-1e-4/best',
      'fgg/cyclic-1e-3/epoch-1',
      'fgg/cyclic-1e-3/epoch-5',
      'fgg/cyclic-1e-4/epoch-1',
      'fgg/cyclic-1e-4/epoch-5'
    ]) {
      const [a, b] = [await weightsOf(localWs, local.run.id, dir), await weightsOf(ws, r.run.id, dir)]
      expect(b.length).toBe(a.length)
      for (const [i, w] of a.entries()) expect(Buffer.from(b[i].buffer).equals(Buffer.from(w.buffer))).toBe(true)
    }
    // The submitting process recorded every member with its validation score.
    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const members = store.runs.listMembers(r.run.id)
      expect(members.map((m) => m.status)).toEqual(MEMBERS.map(() => 'done'))
      for (const m of members) expect(m.valScore).toBe(r.members.find((x) => x.id === m.id)!.val.acc)
    } finally {
      store.close()
    }
  }, 600_000)

  it('scancel of one array task mid-epoch, then `job resume`: only it is resubmitted, resumes from its checkpoint, ends with the uninterrupted weights; each epoch recorded once', async () => {
    const ws = workspace()
    // Paced steps (FF_STEP_PACE_MS, exported to the tasks by sbatch): the tasks would otherwise finish before the test can cut one.
    const g = cli(['--workspace', ws, ...PLAN, '--executor', 'slurm', '--json'], { env: { FF_STEP_PACE_MS: '400' } })
    // Wait for task 1 to be inside a cyclic epoch after at least one completed one, then scancel it.
    let status: TaskStatus | null = null
    const t0 = Date.now()
    for (;;) {
      const runs = existsSync(join(ws, 'runs')) ? readdirSync(join(ws, 'runs')) : []
      const file = runs.length === 1 ? join(ws, 'runs', runs[0], 'slurm', 'task-1.json') : ''
      try {
        status = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TaskStatus) : null
      } catch {
        status = null
      }
      if (status?.unit === 'fgg-cyclic-lr1e-4' && status.epoch >= 1 && status.iteration >= 1) break
      if (Date.now() - t0 > 300_000)
        throw new Error(`task 1 did not reach its cyclic phase within 5 minutes (status ${JSON.stringify(status)})`)
      await sleep(100)
    }
    execFileSync('scancel', [`${status.jobId}_1`], { env: { ...process.env, ...cluster.env } })
    const first = await g.done
    expect(first.code).not.toBe(0)
    expect(first.stderr).toMatch(
      /task 1 \(fgg-base-lr1e-4 → fgg-cyclic-lr1e-4\): Slurm state CANCELLED: cancelled \(scancel\)/
    )

    const store = Store.open(join(ws, 'fissionfusion.db'))
    let jobId: string
    let runId: string
    try {
      const job = store.jobs.list({ limit: 10 }).find((j) => j.kind === 'fission')!
      expect(job).toMatchObject({ status: 'failed', resumable: true })
      jobId = job.id
      runId = (job.state as { runId: string }).runId
    } finally {
      store.close()
    }
    const runDir = join(ws, 'runs', runId)
    const cut = (await readCheckpoint(join(runDir, 'fgg', 'cyclic-1e-4', 'state'))).meta.trainer!.epoch
    expect(cut).toBeGreaterThanOrEqual(1)
    expect(cut).toBeLessThan(5)
    expect(existsSync(join(runDir, 'fgg', 'cyclic-1e-4', 'result.json'))).toBe(false)
    const task0Done = statSync(join(runDir, 'fgg', 'cyclic-1e-3', 'result.json')).mtimeMs

    const resumed = (await cliOk(['--workspace', ws, 'job', 'resume', jobId])) as {
      status: string
      result: FissionJson
    }
    expect(resumed.status).toBe('completed')
    const r = resumed.result
    // Only task 1 was resubmitted; it resumed after the epoch its checkpoint holds; task 0 was left alone.
    expect(r.run.slurm!.submissions.map((s) => s.tasks)).toEqual([[0, 1], [1]])
    const after = JSON.parse(readFileSync(join(runDir, 'slurm', 'task-1.json'), 'utf8')) as TaskStatus
    expect(after).toMatchObject({ state: 'done', jobId: r.run.slurm!.submissions[1].jobId })
    // The base had finished: only the cyclic phase ran, from its checkpoint.
    expect(after.resumedFrom).toEqual({ 'fgg-cyclic-lr1e-4': cut })
    expect(readFileSync(join(runDir, 'slurm', 'task-1.log'), 'utf8')).toContain(
      `fgg-cyclic-lr1e-4: resuming after epoch ${cut}`
    )
    expect(statSync(join(runDir, 'fgg', 'cyclic-1e-3', 'result.json')).mtimeMs).toBe(task0Done)

    // The final weights are the uninterrupted (local) run's.
    for (const dir of [
      'fgg/cyclic-1e-4/epoch-1',
      'fgg/cyclic-1e-4/epoch-5',
      'fgg/cyclic-1e-4/state',
      'fgg/cyclic-1e-3/epoch-5'
    ]) {
      const [a, b] = [await weightsOf(localWs, local.run.id, dir), await weightsOf(ws, runId, dir)]
      for (const [i, w] of a.entries()) expect(Buffer.from(b[i].buffer).equals(Buffer.from(w.buffer))).toBe(true)
    }
    // Each epoch of each unit was reported once over both attempts, and each training's history holds it once.
    const s2 = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const reported = s2.jobs.events({ jobId, limit: 100_000 }).flatMap((e) => {
        const m = e.type === 'progress' && e.progress.metrics ? /^(\S+) epoch (\d+)$/.exec(e.progress.phase) : null
        return m ? [`${m[1]} ${m[2]}`] : []
      })
      const expected = Object.entries(UNITS).flatMap(([u, n]) => Array.from({ length: n }, (_, k) => `${u} ${k + 1}`))
      expect([...reported].sort()).toEqual([...expected].sort())
      const members = s2.runs.listMembers(runId)
      expect(members.map((m) => m.status)).toEqual(MEMBERS.map(() => 'done'))
    } finally {
      s2.close()
    }
    for (const [dir, n] of [
      ['fgg/base-1e-4', 2],
      ['fgg/cyclic-1e-4', 5]
    ] as const) {
      const history = (
        JSON.parse(readFileSync(join(runDir, dir, 'result.json'), 'utf8')) as { history: { epoch: number }[] }
      ).history
      expect(history.map((h) => h.epoch)).toEqual(Array.from({ length: n }, (_, k) => k + 1))
    }
  }, 600_000)

  it('Cancel (Ctrl-C) runs scancel on the array: the tasks stop between steps, the job is cancelled and resumable', async () => {
    const ws = workspace()
    const g = cli(
      [
        '--workspace',
        ws,
        'fission',
        '--dataset',
        'retina',
        '--plan',
        'grid',
        '--lrs',
        '1e-3,1e-4',
        '--seeds',
        '0',
        '--augs',
        'none',
        '--epochs',
        '30',
        '--batch-size',
        '32',
        '--width',
        '0.5',
        '--executor',
        'slurm',
        '--json'
      ],
      { env: { FF_STEP_PACE_MS: '400' } }
    )
    const t0 = Date.now()
    const statuses = (): (TaskStatus | null)[] => {
      const runs = existsSync(join(ws, 'runs')) ? readdirSync(join(ws, 'runs')) : []
      return [0, 1].map((i) => {
        const file = runs.length === 1 ? join(ws, 'runs', runs[0], 'slurm', `task-${i}.json`) : ''
        try {
          return file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TaskStatus) : null
        } catch {
          return null
        }
      })
    }
    while (!statuses().every((st) => st?.state === 'running' && st.iteration >= 1)) {
      if (Date.now() - t0 > 300_000)
        throw new Error(`the tasks did not start training within 5 minutes: ${JSON.stringify(statuses())}`)
      await sleep(100)
    }
    process.kill(g.pid, 'SIGINT')
    const r = await g.done
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/cancelling: scancel \d+/)
    expect(
      execFileSync('squeue', ['-h'], { env: { ...process.env, ...cluster.env } })
        .toString()
        .trim()
    ).toBe('')
    expect(statuses().map((st) => st?.state)).toEqual(['cancelled', 'cancelled'])
    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const job = store.jobs.list({ limit: 10 }).find((j) => j.kind === 'fission')!
      expect(job).toMatchObject({ status: 'cancelled', resumable: true })
      const runId = (job.state as { runId: string }).runId
      expect(store.runs.get(runId)!.status).toBe('cancelled')
      expect(store.runs.listMembers(runId).map((m) => m.status)).toEqual(['cancelled', 'cancelled'])
    } finally {
      store.close()
    }
  }, 300_000)

  it('the submitting process killed while the array runs: `job resume` follows the running task instead of submitting it again', async () => {
    const ws = workspace()
    const env = { ...process.env, ...cluster.env }
    const args = [
      'fission',
      '--dataset',
      'retina',
      '--plan',
      'grid',
      '--lrs',
      '1e-3',
      '--seeds',
      '0',
      '--augs',
      'none',
      '--epochs',
      '3',
      '--batch-size',
      '32',
      '--width',
      '0.5',
      '--executor',
      'slurm'
    ]
    const g = cliGroup(['--workspace', ws, '--backend', 'wasm', ...args, '--json'], { env: cluster.env })
    const t0 = Date.now()
    let status: TaskStatus | null = null
    for (;;) {
      const runs = existsSync(join(ws, 'runs')) ? readdirSync(join(ws, 'runs')) : []
      const file = runs.length === 1 ? join(ws, 'runs', runs[0], 'slurm', 'task-0.json') : ''
      try {
        status = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TaskStatus) : null
      } catch {
        status = null
      }
      if (status?.state === 'running' && status.epoch >= 1) break
      if (Date.now() - t0 > 300_000)
        throw new Error(`the task did not finish an epoch within 5 minutes: ${JSON.stringify(status)}`)
      await sleep(100)
    }
    // Suspend the task (so it is surely still queued when the job resumes), then kill the submitting CLI, engine and all.
    const task = `${status.jobId}_0`
    execFileSync('scontrol', ['suspend', task], { env })
    g.kill()
    expect((await g.done).signal).toBe('SIGKILL')
    expect(execFileSync('squeue', ['-h', '-r', '-o', '%i %T'], { env }).toString().trim()).toBe(`${task} SUSPENDED`)

    const store = Store.open(join(ws, 'fissionfusion.db'))
    let jobId: string
    try {
      jobId = store.jobs.list({ limit: 10 }).find((j) => j.kind === 'fission')!.id
    } finally {
      store.close()
    }
    const resume = cli(['--workspace', ws, 'job', 'resume', jobId, '--json'])
    // Once the resumed job says it follows the queued task, let the task go on.
    const followed = `following 1 array task(s) still queued from an earlier submission: ${task}`
    for (const t1 = Date.now(); ; await sleep(200)) {
      const s1 = Store.open(join(ws, 'fissionfusion.db'))
      try {
        if (s1.jobs.events({ jobId, limit: 100_000 }).some((e) => e.type === 'log' && e.message === followed)) break
      } finally {
        s1.close()
      }
      if (Date.now() - t1 > 120_000) throw new Error('the resumed job did not follow the queued task within 2 minutes')
    }
    execFileSync('scontrol', ['resume', task], { env })
    const out = await resume.done
    if (out.code !== 0) throw new Error(`job resume exited ${out.code}: ${out.stderr.slice(-2000)}`)
    const resumed = JSON.parse(out.stdout) as { status: string; result: FissionJson }
    expect(resumed.status).toBe('completed')
    expect(resumed.result.run.slurm!.submissions.map((x) => [x.jobId, x.tasks])).toEqual([[status.jobId, [0]]])
    const s2 = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const member = s2.runs.listMembers(resumed.result.run.id)[0]
      expect(member.status).toBe('done')
      expect([...new Set(s2.runs.listMetrics(member.id).map((m) => m.epoch))]).toEqual([1, 2, 3])
    } finally {
      s2.close()
    }
  }, 300_000)

  it('a node that cannot run the installation fails the task with a clear reason; so does sbatch refusing the array', async () => {
    const ws = workspace()
    const r = await cli(
      [
        '--workspace',
        ws,
        'fission',
        '--dataset',
        'retina',
        '--plan',
        'grid',
        '--lrs',
        '1e-3',
        '--seeds',
        '0',
        '--augs',
        'none',
        '--epochs',
        '1',
        '--executor',
        'slurm',
        '--json'
      ],
      { env: { FF_SLURM_NODE: '/nonexistent/bin/node' } }
    ).done
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(
      /task 0 \(grid-lr1e-3-s0-none\): Slurm state FAILED: failed, reason NonZeroExitCode, exit code 2:0; its log ends: .*cannot run Node\.js at \/nonexistent\/bin\/node/
    )
    // sbatch refusing the array is one sentence naming the script relative to the run folder.
    const bad = await cli([
      '--workspace',
      ws,
      'fission',
      '--dataset',
      'retina',
      '--plan',
      'grid',
      '--lrs',
      '1e-3',
      '--seeds',
      '0',
      '--augs',
      'none',
      '--epochs',
      '1',
      '--executor',
      'slurm',
      '--partition',
      'nosuch',
      '--json'
    ]).done
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(
      /error: fission job \S+ failed: sbatch --parsable --array=0 job\.sh: sbatch: error: invalid partition specified: nosuch/
    )
  }, 300_000)
})
