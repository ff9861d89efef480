// End to end through the CLI, as a user runs it: `fissionfusion fission` (a job in an engine
// process training units in a pool of worker processes). An FGG plan's JSON and store records;
// then a grid plan killed with SIGKILL in the middle of an epoch (CLI, engine and workers at
// once), resumed with `job resume`, must end with the same weights as an uninterrupted run.
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { readCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { cliGroup, cliJson } from '../../fixtures/process'
import { writeSyntheticCache } from '../engine/fission/helpers'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A fresh workspace holding one synthetic dataset `ds_syn`. */
function workspaceWithDataset(counts: { train: number; val: number; test: number }, size: number): string {
  const ws = mkdtempSync(join(tmpdir(), 'ff-fission-cli-'))
  dirs.push(ws)
  const workspace = Workspace.open(ws)
  const store = Store.open(workspace.dbPath)
  try {
    const src = writeSyntheticCache({ counts, size, channels: 1, classes: 3, seed: 11 })
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

interface FissionJson {
  run: {
    id: string
    plan: string
    backend: string
    workers: number
    status: string
    units: { id: string; status: string }[]
  }
  members: {
    id: string
    group: string
    lr: number
    seed: number
    aug: string
    epoch: number
    epochsTrained: number
    seconds: number
    val: Record<string, number>
  }[]
}

describe('fissionfusion fission', () => {
  it('--plan fgg prints the run and every member (base + cyclic snapshots per rate) and records them with their lineage', async () => {
    const ws = workspaceWithDataset({ train: 48, val: 24, test: 24 }, 12)
    const r = (await cliJson(ws, 'wasm', [
      'fission',
      '--dataset',
      'ds_syn',
      '--plan',
      'fgg',
      '--lrs',
      '3e-3,1e-3',
      '--epochs',
      '2',
      '--fgg-epochs',
      '5',
      '--cycle',
      '4',
      '--batch-size',
      '8',
      '--workers',
      '2',
      '--metric',
      'f1'
    ])) as FissionJson
    expect(r.run).toMatchObject({ plan: 'fgg', backend: 'wasm', workers: 2, status: 'done' })
    // 2 rates × (base + snapshots at cyclic epochs 1 and 5)
    expect(r.members.map((m) => [m.group, m.epoch]).sort()).toEqual([
      ['1e-3', 0],
      ['1e-3', 1],
      ['1e-3', 5],
      ['3e-3', 0],
      ['3e-3', 1],
      ['3e-3', 5]
    ])
    for (const m of r.members) {
      expect(m.lr).toBe(m.group === '3e-3' ? 3e-3 : 1e-3)
      expect(m.aug).toBe('heavy')
      expect(m.epochsTrained).toBe(2 + m.epoch)
      expect(m.seconds).toBeGreaterThan(0)
      for (const k of ['acc', 'f1', 'recall', 'auc']) expect(m.val[k]).toBeGreaterThanOrEqual(0)
      expect(m.val.loss).toBeGreaterThan(0)
    }
    const store = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const members = store.runs.listMembers(r.run.id)
      expect(members).toHaveLength(6)
      for (const m of members) {
        expect(m.status).toBe('done')
        const ckpt = await readCheckpoint(join(ws, m.checkpointPath!))
        expect(ckpt.meta.classes).toEqual(['c0', 'c1', 'c2'])
        const printed = r.members.find((x) => x.id === m.id)!
        expect(m.valScore).toBeCloseTo(printed.val.f1, 12)
        // a cyclic snapshot's parent is the previous member of its lineage, its epochs its own
        const epoch = Number(m.hyperparams.epoch)
        if (epoch === 0) expect(m.epochs).toBe(2)
        else {
          const parent = members.find((x) => x.id === m.parentId)!
          expect(parent.groupKey).toBe(m.groupKey)
          expect(Number(parent.hyperparams.epoch)).toBe(epoch === 1 ? 0 : 1)
          expect(m.epochs).toBe(epoch === 1 ? 1 : 4)
        }
      }
    } finally {
      store.close()
    }
  }, 600_000)

  it('killed with SIGKILL mid-epoch and resumed with `job resume`: the same weights as an uninterrupted run, no epoch recorded twice', async () => {
    const counts = { train: 384, val: 48, test: 24 }
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
      'heavy',
      '--epochs',
      '3',
      '--batch-size',
      '16',
      '--workers',
      '1',
      '--json'
    ]
    const straightWs = workspaceWithDataset(counts, 16)
    const straight = JSON.parse((await cliGroup(['--workspace', straightWs, ...args]).done).stdout) as FissionJson
    expect(straight.run.status).toBe('done')

    const ws = workspaceWithDataset(counts, 16)
    const g = cliGroup(['--workspace', ws, ...args])
    // Watch the job's recorded epochs; kill half an epoch after the first one ends, i.e. during epoch 2.
    const db = new Database(join(ws, 'fissionfusion.db'), { readonly: true, fileMustExist: true })
    let epochMs = 0
    try {
      const t0 = Date.now()
      for (;;) {
        const row = db
          .prepare(
            "SELECT at FROM job_events WHERE type = 'progress' AND payload_json LIKE '%epoch 1\"%' ORDER BY seq LIMIT 1"
          )
          .get() as { at: string } | undefined
        if (row) {
          // An epoch's length, from the memory plan logged just before training (the workspace's first run measures the footprint first).
          const planned = db
            .prepare(
              "SELECT at FROM job_events WHERE type = 'log' AND payload_json LIKE '%memory:%' ORDER BY seq LIMIT 1"
            )
            .get() as { at: string } | undefined
          epochMs = planned ? Date.parse(row.at) - Date.parse(planned.at) : Date.now() - t0
          break
        }
        if (Date.now() - t0 > 300_000) throw new Error('no epoch finished within 5 minutes')
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      db.close()
    }
    await new Promise((r) => setTimeout(r, Math.max(300, epochMs / 4)))
    g.kill()
    const killed = await g.done
    expect(killed.signal).toBe('SIGKILL')

    const store = Store.open(join(ws, 'fissionfusion.db'))
    let jobId: string
    let runId: string
    let memberDir: string
    try {
      const job = store.jobs.list({ limit: 10 }).find((j) => j.kind === 'fission')!
      jobId = job.id
      runId = (job.state as { runId: string }).runId
      const member = store.runs.listMembers(runId)[0]
      memberDir = join(Workspace.open(ws).runDir(runId), 'grid', member.name)
    } finally {
      store.close()
    }
    const partial = await readCheckpoint(join(memberDir, 'state'))
    expect(partial.meta.trainer!.epoch).toBeGreaterThanOrEqual(1)
    expect(partial.meta.trainer!.epoch).toBeLessThan(3)

    const resumed = await cliGroup(['--workspace', ws, 'job', 'resume', jobId, '--json']).done
    if (resumed.code !== 0) throw new Error(`job resume exited ${resumed.code}: ${resumed.stderr.slice(-2000)}`)

    // Same weights, optimizer state and validation scores as the uninterrupted run.
    const straightStore = Store.open(join(straightWs, 'fissionfusion.db'))
    const resumedStore = Store.open(join(ws, 'fissionfusion.db'))
    try {
      const a = straightStore.runs.listMembers(straight.run.id)
      const b = resumedStore.runs.listMembers(runId)
      expect(b.map((m) => [m.name, m.status, m.epochs, m.valScore])).toEqual(
        a.map((m) => [m.name, m.status, m.epochs, m.valScore])
      )
      for (const [i, m] of a.entries()) {
        for (const which of ['best', 'state']) {
          const x = await readCheckpoint(
            join(Workspace.open(straightWs).runDir(straight.run.id), 'grid', m.name, which)
          )
          const y = await readCheckpoint(join(Workspace.open(ws).runDir(runId), 'grid', b[i].name, which))
          expect(y.weights.map((w) => Array.from(w.data))).toEqual(x.weights.map((w) => Array.from(w.data)))
          expect([...y.optimizer!.moments.values()].map((mv) => Array.from(mv.m))).toEqual(
            [...x.optimizer!.moments.values()].map((mv) => Array.from(mv.m))
          )
        }
      }
      // Each completed epoch was reported once over both attempts (the interrupted epoch only by the resumed one).
      const phases = resumedStore.jobs.events({ jobId, limit: 10_000 }).flatMap((e) => {
        const m = e.type === 'progress' ? / epoch (\d+)$/.exec(e.progress.phase) : null
        return m ? [m[1]] : []
      })
      expect(phases).toEqual(['1', '2', '3'])
      const job = resumedStore.jobs.get(jobId)!
      expect(job.status).toBe('completed')
      expect(job.attempt).toBe(2)
    } finally {
      straightStore.close()
      resumedStore.close()
    }
  }, 900_000)
})
