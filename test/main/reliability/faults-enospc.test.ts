// A fission job whose third checkpoint write hits a full disk (injected: FF_FAULT=enospc@checkpoint:3)
// fails with the disk-full sentence, keeps its last good state, and `job resume` then ends with
// the same weights as an uninterrupted run.
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { cliGroup } from '../../fixtures/process'
import { writeSyntheticCache } from '../engine/fission/helpers'

const dirs: string[] = []
const temp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('disk full during fission', () => {
  function workspaceWithDataset(): string {
    const ws = temp('ff-enospc-')
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    try {
      const counts = { train: 96, val: 24, test: 24 }
      const src = writeSyntheticCache({ counts, size: 12, channels: 1, classes: 3, seed: 11 })
      dirs.push(src)
      cpSync(src, workspace.datasetDir('ds_syn'), { recursive: true })
      store.datasets.create({
        id: 'ds_syn',
        name: 'synthetic bands',
        format: 'synthetic',
        task: 'single',
        status: 'ready',
        classes: ['c0', 'c1', 'c2'],
        counts,
        dir: 'datasets/ds_syn'
      })
    } finally {
      store.close()
    }
    return ws
  }
  const args = [
    'fission',
    '--dataset',
    'ds_syn',
    '--plan',
    'grid',
    '--lrs',
    '2e-3',
    '--seeds',
    '0',
    '--augs',
    'none',
    '--epochs',
    '3',
    '--batch-size',
    '16',
    '--workers',
    '1',
    '--json'
  ]

  it('ENOSPC at the third checkpoint write: the job fails with the disk-full sentence; `job resume` ends with the weights of an uninterrupted run', async () => {
    const straightWs = workspaceWithDataset()
    const straight = await cliGroup(['--workspace', straightWs, ...args], { env: { FF_THREADS: '1' } }).done
    if (straight.code !== 0)
      throw new Error(`uninterrupted run exited ${straight.code}: ${straight.stderr.slice(-2000)}`)
    const straightRun = (JSON.parse(straight.stdout) as { run: { id: string } }).run.id

    const ws = workspaceWithDataset()
    const full = await cliGroup(['--workspace', ws, ...args], {
      env: { FF_THREADS: '1', FF_FAULT: 'enospc@checkpoint:3' }
    }).done
    expect(full.code).toBe(1)
    const store = Store.open(join(ws, 'fissionfusion.db'))
    let jobId: string
    let runId: string
    try {
      const job = store.jobs.list({ limit: 10 }).find((j) => j.kind === 'fission')!
      jobId = job.id
      runId = (job.state as { runId: string }).runId
      expect(job.status).toBe('failed')
      expect(job.resumable).toBe(true)
      expect(job.error).toMatch(
        /^unit grid-lr2e-3-s0-none: disk full: could not write the checkpoint .*weights\.bin; free at least \d+ MB on the workspace's disk \(\d+ MB free now\), then `job resume`/
      )
      expect(full.stderr).toContain('disk full: could not write the checkpoint')
      // the last good state is the end of epoch 1 (writes 1 and 2: best, state); nothing half-written is left
      const member = store.runs.listMembers(runId)[0]
      const memberDir = join(Workspace.open(ws).runDir(runId), 'grid', member.name)
      expect((await readCheckpoint(join(memberDir, 'state'))).meta.trainer!.epoch).toBe(1)
      expect(readdirSync(memberDir).filter((f) => f.includes('.tmp-'))).toEqual([])
    } finally {
      store.close()
    }

    const resumed = await cliGroup(['--workspace', ws, 'job', 'resume', jobId, '--json'], { env: { FF_THREADS: '1' } })
      .done
    if (resumed.code !== 0) throw new Error(`job resume exited ${resumed.code}: ${resumed.stderr.slice(-2000)}`)
    const a = Store.open(join(straightWs, 'fissionfusion.db'))
    const b = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const ma = a.runs.listMembers(straightRun)
      const mb = b.runs.listMembers(runId)
      expect(mb.map((m) => [m.name, m.status, m.epochs, m.valScore])).toEqual(
        ma.map((m) => [m.name, m.status, m.epochs, m.valScore])
      )
      for (const [i, m] of ma.entries()) {
        const x = readFileSync(join(straightWs, m.checkpointPath!, 'weights.bin'))
        const y = readFileSync(join(ws, mb[i].checkpointPath!, 'weights.bin'))
        expect(y.equals(x), m.name).toBe(true)
        // the hash recorded for the resumed member is the one of its final weights
        expect(b.files.get(`${mb[i].checkpointPath}/weights.bin`)!.damaged).toBeNull()
      }
      expect(b.jobs.get(jobId)!.status).toBe('completed')
    } finally {
      a.close()
      b.close()
    }
  }, 600_000)
})
