/**
 * `fissionfusion demo --quick` end to end, as a user runs it (a child process of the CLI), then
 * the same command killed with SIGKILL at three seeded random moments and run again: the
 * database must pass its integrity check, no training epoch may be recorded twice, and the final
 * tables must equal the uninterrupted run's.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import * as ort from 'onnxruntime-node'
import { beforeAll, describe, expect, it } from 'vitest'
import { plannedEpochs, QUICK_PRESET } from '../../../src/main/engine/demo/presets'
import { cliGroup, type Exit } from '../../fixtures/process'

interface Ci {
  value: number
  ci: [number, number]
}
interface Report {
  backend: string
  metric: string
  datasets: { source: string; ood: string[] }
  compute: { gridEpochs: number; fggEpochs: number; fggToGrid: number }
  members: Array<{ plan: string; name: string; epochs: number; val: number | null; status: string }>
  methods: Array<{
    plan: string
    method: string
    modelId: string | null
    val: number
    test: Record<string, Ci>
    ood: Record<string, { metrics: Record<string, Ci> }>
    corruptionMean: number | null
    epochs: number
  }>
  best: { plan: string; method: string; modelId: string; val: number }
  treeText: string[]
  export: {
    file: string
    files: string[]
    card: { preprocessing: { size: [number, number]; channels: 1 | 3; scale: number; mean: number[]; std: number[] } }
  }
}

/** Runs `demo --quick --json` in its own process group; SIGKILLs the whole group after `killAfterMs` if given. */
function demo(workspace: string, killAfterMs?: number): Promise<Exit> {
  return cliGroup(['demo', '--quick', '--json', '--workspace', workspace], { killAfterMs }).done
}

function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** What must be equal between an interrupted and an uninterrupted run: every number but times and ids. */
function comparable(r: Report): unknown {
  return {
    members: r.members.map((m) => [m.plan, m.name, m.epochs, m.val]),
    methods: r.methods.map((m) => [
      m.plan,
      m.method,
      m.val,
      m.test,
      m.ood[Object.keys(m.ood)[0]]?.metrics,
      m.corruptionMean,
      m.epochs
    ]),
    best: [r.best.plan, r.best.method, r.best.val]
  }
}

let straight: Report
let straightMs = 0
let straightStderr = ''
let straightDir = ''

describe('fissionfusion demo --quick', () => {
  beforeAll(async () => {
    straightDir = mkdtempSync(join(tmpdir(), 'ff-demo-'))
    const r = await demo(straightDir)
    if (r.code !== 0) throw new Error(`demo --quick exited ${r.code}: ${r.stderr.slice(-2000)}`)
    straight = JSON.parse(r.stdout) as Report
    straightMs = r.ms
    straightStderr = r.stderr
    process.stderr.write(`demo --quick took ${(r.ms / 1000).toFixed(1)} s\n`)
  }, 900_000)

  it('reports members and methods with non-trivial numbers, soups that do not all tie, and FGG at ~22% of the grid epochs', () => {
    expect(straight.backend).toMatch(/wasm|tensorflow|cpu/)
    const planned = plannedEpochs(QUICK_PRESET)
    expect(straight.members.filter((m) => m.plan === 'grid')).toHaveLength(QUICK_PRESET.lrs.length * 6)
    expect(straight.members.every((m) => m.status === 'done' && m.val !== null)).toBe(true)
    expect(straight.compute.gridEpochs).toBe(planned.grid)
    expect(straight.compute.fggEpochs).toBe(planned.fgg)
    expect(straight.compute.fggToGrid).toBeGreaterThan(0.2)
    expect(straight.compute.fggToGrid).toBeLessThan(0.24)

    expect(straight.methods.map((m) => `${m.plan}:${m.method}`).sort()).toEqual(
      ['grid', 'fgg']
        .flatMap((p) => ['best', 'uniform', 'greedy', 'gou', 'gog', 'uou', 'uog', 'ensemble'].map((m) => `${p}:${m}`))
        .sort()
    )
    for (const m of straight.methods) {
      const acc = m.test.acc
      expect(acc.ci[0]).toBeLessThanOrEqual(acc.value)
      expect(acc.ci[1]).toBeGreaterThanOrEqual(acc.value)
      expect(acc.ci[1] - acc.ci[0]).toBeGreaterThan(0)
      expect(m.epochs).toBeGreaterThan(0)
      expect(Object.keys(m.ood)).toEqual(straight.datasets.ood)
      expect(m.corruptionMean).not.toBeNull()
    }
    // Better than chance (4 balanced classes) but not solved; the methods differ.
    const accs = straight.methods.map((m) => m.test.acc.value)
    expect(Math.max(...accs)).toBeGreaterThan(0.4)
    expect(Math.min(...accs)).toBeLessThan(0.99)
    expect(new Set(accs.map((a) => a.toFixed(4))).size).toBeGreaterThanOrEqual(4)
    const soups = straight.methods.filter((m) => !['best', 'ensemble'].includes(m.method))
    expect(new Set(soups.map((m) => m.val.toFixed(4))).size).toBeGreaterThanOrEqual(3)
    expect(straight.treeText[0]).toContain(straight.best.method)
    expect(straight.treeText.length).toBeGreaterThan(2)
  })

  it('says each distinct warning at most once, whatever the number of stages and worker processes', () => {
    const warnings = straightStderr.split('\n').filter((l) => /^\[warn\]|^npm warn/i.test(l))
    expect(warnings.filter((l) => /^npm warn/i.test(l))).toEqual([])
    expect(new Set(warnings).size).toBe(warnings.length)
  })

  it('exports the best soup by validation as one .onnx that onnxruntime runs with the reported test accuracy', async () => {
    const soups = straight.methods.filter((m) => !['best', 'ensemble'].includes(m.method))
    expect(straight.best.val).toBe(Math.max(...soups.map((m) => m.val)))
    expect(straight.export.file.endsWith('.onnx')).toBe(true)
    expect(existsSync(straight.export.file)).toBe(true)
    expect(straight.export.files.some((f) => f.endsWith('.md'))).toBe(true)

    // The source dataset's test split, read from the workspace cache and preprocessed as the card says.
    const dir = join(straightDir, 'datasets', straight.datasets.source)
    const pixels = readFileSync(join(dir, 'test.images.u8'))
    const labels = new Int32Array(new Uint8Array(readFileSync(join(dir, 'test.labels.i32'))).buffer)
    const pre = straight.export.card.preprocessing
    const [h, w] = pre.size
    const n = labels.length
    const input = new Float32Array(n * h * w * pre.channels)
    for (let i = 0; i < n * h * w; i++)
      for (let c = 0; c < pre.channels; c++)
        input[i * pre.channels + c] = (pixels[i] * pre.scale - pre.mean[c]) / pre.std[c]
    const session = await ort.InferenceSession.create(straight.export.file)
    try {
      const out = await session.run({
        [session.inputNames[0]]: new ort.Tensor('float32', input, [n, h, w, pre.channels])
      })
      const probs = out[session.outputNames[0]]
      expect(probs.dims).toEqual([n, 4])
      const p = probs.data as Float32Array
      let correct = 0
      for (let i = 0; i < n; i++) {
        const row = p.subarray(i * 4, i * 4 + 4)
        if (row.indexOf(Math.max(...row)) === labels[i]) correct++
      }
      const exported = straight.methods.find((m) => m.modelId === straight.best.modelId)!
      expect(correct / n).toBeCloseTo(exported.test.acc.value, 6)
    } finally {
      await session.release()
    }
  })

  it('killed with SIGKILL at three random moments and run again: intact database, nothing trained twice, the same tables', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-demo-kill-'))
    const random = rng(20261127)
    const kills: number[] = []
    for (let k = 0; k < 3; k++) {
      // Each attempt runs for a random 8–30% of the uninterrupted duration (startup included), so
      // the three kills fall at different stages and the run is never finished before a kill.
      const at = Math.round((0.08 + 0.22 * random()) * straightMs)
      kills.push(at)
      const r = await demo(dir, at)
      expect(r.signal ?? r.code).toBe('SIGKILL')
    }
    const last = await demo(dir)
    if (last.code !== 0) throw new Error(`resumed demo exited ${last.code}: ${last.stderr.slice(-2000)}`)
    process.stderr.write(
      `killed at ${kills.map((t) => (t / 1000).toFixed(1)).join(', ')} s; the final run took ${(last.ms / 1000).toFixed(1)} s\n`
    )
    const resumed = JSON.parse(last.stdout) as Report
    expect(last.stderr).toMatch(/resuming pipeline job/)

    const db = new Database(join(dir, 'fissionfusion.db'), { readonly: true })
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      const jobs = db.prepare("SELECT id, attempt FROM jobs WHERE kind = 'pipeline'").all() as Array<{
        id: string
        attempt: number
      }>
      expect(jobs).toHaveLength(1)
      expect(jobs[0].attempt).toBe(4)
      // Every completed training epoch is reported once, with its metrics; a member trained twice would repeat its epochs.
      const events = db
        .prepare("SELECT payload_json FROM job_events WHERE job_id = ? AND type = 'progress'")
        .all(jobs[0].id) as Array<{ payload_json: string }>
      const epochs = new Map<string, number>()
      for (const e of events) {
        const p = JSON.parse(e.payload_json) as { phase?: string; metrics?: Record<string, number> }
        const m = /^(pretrain|grid|fgg): (\S+) epoch (\d+)$/.exec(p.phase ?? '')
        if (m && p.metrics) epochs.set(`${m[1]}/${m[2]}/${m[3]}`, (epochs.get(`${m[1]}/${m[2]}/${m[3]}`) ?? 0) + 1)
      }
      expect([...epochs.entries()].filter(([, c]) => c > 1)).toEqual([])
      const planned = plannedEpochs(QUICK_PRESET)
      expect(epochs.size).toBeLessThanOrEqual(planned.grid + planned.fgg + QUICK_PRESET.pretrainEpochs)
      // One run per plan, one soup row per soup method and run.
      expect((db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n).toBe(3)
      const soupRows = (db.prepare('SELECT COUNT(*) AS n FROM soups').get() as { n: number }).n
      const straightDb = new Database(join(straightDir, 'fissionfusion.db'), { readonly: true })
      try {
        expect(soupRows).toBe((straightDb.prepare('SELECT COUNT(*) AS n FROM soups').get() as { n: number }).n)
      } finally {
        straightDb.close()
      }
    } finally {
      db.close()
    }
    expect(comparable(resumed)).toEqual(comparable(straight))
  }, 1_200_000)
})
