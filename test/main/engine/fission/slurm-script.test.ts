// The Slurm executor's pure parts: which array task trains which units, --array lists, the
// batch script (checked by bash itself), and reading squeue / scontrol output as Slurm 22.05
// prints it. The cluster tests are in slurm.test.ts.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildPlan, PLAN_DEFAULTS } from '../../../../src/main/engine/fission/plans'
import {
  arraySpec,
  batchScript,
  describeEnd,
  expandArray,
  parseScontrol,
  parseSqueue,
  planTasks
} from '../../../../src/main/engine/fission/slurm'
import { mergeSlurm, readSlurmDefaults } from '../../../../src/main/host/slurm'
import { fissionParams } from '../../../../src/main/host/jobs/fission'
import { pipelineParams } from '../../../../src/main/host/jobs/pipeline'
import { slurmParamsOf } from '../../../../src/main/commands/slurm'

describe('Slurm task table', () => {
  it('an FGG lineage (base then cyclic) is one task; a grid member is one task', () => {
    const fgg = planTasks(
      buildPlan({ ...PLAN_DEFAULTS, kind: 'fgg', lrs: [1e-3, 1e-4, 1e-5], epochs: 2, fggEpochs: 5 })
    )
    expect(fgg.prelude).toEqual([])
    expect(fgg.tasks).toEqual([
      { index: 0, units: ['fgg-base-lr1e-3', 'fgg-cyclic-lr1e-3'] },
      { index: 1, units: ['fgg-base-lr1e-4', 'fgg-cyclic-lr1e-4'] },
      { index: 2, units: ['fgg-base-lr1e-5', 'fgg-cyclic-lr1e-5'] }
    ])
    const grid = planTasks(
      buildPlan({ ...PLAN_DEFAULTS, kind: 'grid', lrs: [1e-3, 1e-4], seeds: [0, 1], augs: ['minimal', 'heavy'] })
    )
    expect(grid.tasks).toHaveLength(2 * 2 * 2)
    expect(grid.tasks.every((t) => t.units.length === 1)).toBe(true)
  })

  it('a linear probe every lineage starts from is trained before the array, not in it', () => {
    const t = planTasks(buildPlan({ ...PLAN_DEFAULTS, kind: 'fgg', lrs: [1e-3, 1e-4], lpEpochs: 3 }))
    expect(t.prelude).toEqual(['lp'])
    expect(t.tasks.map((x) => x.units)).toEqual([
      ['fgg-base-lr1e-3', 'fgg-cyclic-lr1e-3'],
      ['fgg-base-lr1e-4', 'fgg-cyclic-lr1e-4']
    ])
  })

  it('--array lists: compact and expanded back', () => {
    expect(arraySpec([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8')
    expect(arraySpec([3])).toBe('3')
    expect(expandArray('0-2,5,7-8')).toEqual([0, 1, 2, 5, 7, 8])
    expect(expandArray('0-6:3')).toEqual([0, 3, 6])
  })
})

describe('batch script', () => {
  const script = batchScript({
    name: 'ff-run_x',
    runDir: '/shared/ws/runs/run_x',
    tasks: 3,
    node: '/opt/node 20/bin/node',
    cli: '/shared/ff/bin/fissionfusion.mjs',
    options: {
      partition: 'gpu',
      account: 'radiology',
      time: '2:00:00',
      cpusPerTask: 2,
      mem: '4G',
      gres: 'gpu:1',
      extra: ['--qos=long', '--exclude=n3']
    }
  })

  it('carries every option as an #SBATCH line and calls the installation by its absolute path', () => {
    const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH'))
    expect(directives).toEqual([
      '#SBATCH --job-name=ff-run_x',
      '#SBATCH --array=0-2',
      '#SBATCH --ntasks=1',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --chdir=/shared/ws/runs/run_x/slurm',
      '#SBATCH --output=/shared/ws/runs/run_x/slurm/task-%a.log',
      '#SBATCH --open-mode=append',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=radiology',
      '#SBATCH --time=2:00:00',
      '#SBATCH --mem=4G',
      '#SBATCH --gres=gpu:1',
      '#SBATCH --qos=long',
      '#SBATCH --exclude=n3'
    ])
    expect(script).toContain(`NODE='/opt/node 20/bin/node'`)
    expect(script).toContain('exec "$NODE" "$CLI" slurm-task "$SETUP" "$TASK"')
    execFileSync('bash', ['-n'], { input: script })
  })

  it('fails with a clear sentence when the node cannot run Node.js at that path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-slurm-script-'))
    try {
      const path = join(dir, 'job.sh')
      writeFileSync(
        path,
        batchScript({
          name: 'x',
          runDir: dir,
          tasks: 1,
          node: '/nonexistent/node',
          cli: '/nonexistent/cli.mjs',
          options: {}
        })
      )
      let err: { status: number; stderr: Buffer } | undefined
      try {
        execFileSync('bash', [path], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '0' }, stdio: 'pipe' })
      } catch (e) {
        err = e as { status: number; stderr: Buffer }
      }
      expect(err?.status).toBe(2)
      expect(err?.stderr.toString()).toMatch(/array task 0 on .*: cannot run Node.js at \/nonexistent\/node/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses an option that would break the script', () => {
    expect(() =>
      batchScript({
        name: 'x',
        runDir: '/r',
        tasks: 1,
        node: '/n',
        cli: '/c',
        options: { partition: 'a\n#SBATCH --uid=0' }
      })
    ).toThrow(/partition/)
  })
})

describe('squeue / scontrol output', () => {
  it('reads one line per array task, and a pending range squeue left unsplit', () => {
    const text = '12_0|RUNNING|None|node1\n12_1|PENDING|Resources|\n13_[2-4%2]|PENDING|JobArrayTaskLimit|\n'
    expect(parseSqueue(text)).toEqual([
      { jobId: '12', index: 0, state: 'RUNNING', reason: 'None', nodes: 'node1' },
      { jobId: '12', index: 1, state: 'PENDING', reason: 'Resources', nodes: '' },
      { jobId: '13', index: 2, state: 'PENDING', reason: 'JobArrayTaskLimit', nodes: '' },
      { jobId: '13', index: 3, state: 'PENDING', reason: 'JobArrayTaskLimit', nodes: '' },
      { jobId: '13', index: 4, state: 'PENDING', reason: 'JobArrayTaskLimit', nodes: '' }
    ])
  })

  it('reads scontrol show job -o and words how the task ended', () => {
    const line =
      'JobId=7 ArrayJobId=6 ArrayTaskId=1 JobName=ff-run_x UserId=nobody(65534) GroupId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) ExitCode=0:15 RunTime=00:01:00 Command=/tmp/a b/job.sh WorkDir=/tmp/a b'
    const job = parseScontrol(line)
    expect(job).toMatchObject({
      JobId: '7',
      ArrayJobId: '6',
      ArrayTaskId: '1',
      JobState: 'TIMEOUT',
      Reason: 'TimeLimit',
      ExitCode: '0:15',
      Command: '/tmp/a b/job.sh',
      WorkDir: '/tmp/a b'
    })
    expect(describeEnd(job)).toBe('Slurm state TIMEOUT: killed at its time limit, reason TimeLimit, exit code 0:15')
    expect(describeEnd({ JobState: 'CANCELLED', Reason: 'None', ExitCode: '0:15' })).toBe(
      'Slurm state CANCELLED: cancelled (scancel), exit code 0:15'
    )
    expect(describeEnd({ JobState: 'NODE_FAIL', Reason: 'None', ExitCode: '0:0' })).toBe(
      'Slurm state NODE_FAIL: killed by a node failure'
    )
  })
})

describe('workspace Slurm defaults', () => {
  it('reads slurm.json, flags override it, and a bad field is named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-slurm-defaults-'))
    try {
      expect(readSlurmDefaults(dir)).toEqual({})
      writeFileSync(join(dir, 'slurm.json'), JSON.stringify({ partition: 'cpu', time: '1:00:00', mem: '2G' }))
      expect(mergeSlurm(readSlurmDefaults(dir), { partition: 'gpu', gres: 'gpu:1', time: undefined })).toEqual({
        partition: 'gpu',
        time: '1:00:00',
        mem: '2G',
        gres: 'gpu:1'
      })
      writeFileSync(join(dir, 'slurm.json'), JSON.stringify({ cpusPerTask: 'two' }))
      expect(() => readSlurmDefaults(dir)).toThrow(/slurm\.json in the workspace: cpusPerTask/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('--executor and the Slurm flags', () => {
  it('turn into job params; Slurm flags or --dry-run without --executor slurm are refused', () => {
    expect(
      slurmParamsOf({ executor: 'slurm', partition: 'gpu', cpusPerTask: 2, sbatchArgs: ' --qos=long  --exclude=n3 ' })
    ).toEqual({ partition: 'gpu', cpusPerTask: 2, extra: ['--qos=long', '--exclude=n3'] })
    expect(slurmParamsOf({ executor: 'slurm' })).toEqual({})
    expect(slurmParamsOf({})).toBeUndefined()
    expect(() => slurmParamsOf({ partition: 'gpu' })).toThrow('Slurm options (partition) need --executor slurm')
    expect(() => slurmParamsOf({ executor: 'local', dryRun: true })).toThrow('--dry-run needs --executor slurm')
  })

  it('fission and pipeline params take them (local by default); unknown Slurm fields are refused', () => {
    expect(fissionParams.parse({ datasetId: 'd', plan: 'fgg' }).executor).toBe('local')
    expect(
      fissionParams.parse({
        datasetId: 'd',
        plan: 'fgg',
        executor: 'slurm',
        slurm: { partition: 'gpu', time: '1:00:00' }
      }).slurm
    ).toEqual({ partition: 'gpu', time: '1:00:00' })
    expect(() =>
      fissionParams.parse({ datasetId: 'd', plan: 'fgg', executor: 'slurm', slurm: { queue: 'gpu' } })
    ).toThrow(/queue/)
    const p = pipelineParams.parse({
      data: { kind: 'import', source: { input: '/x' } },
      executor: 'slurm',
      slurm: { account: 'rad' }
    })
    expect([p.executor, p.slurm]).toEqual(['slurm', { account: 'rad' }])
  })
})
