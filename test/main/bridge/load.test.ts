// The bridge under load, and every contract command fuzzed. 50 WebSocket clients × 200 mixed
// requests (lists, gets, estimates, malformed frames, unknown commands, invalid requests) at
// once, in bounded time: every valid request answered ok, every malformed one a typed error,
// and the heap back near where it started. Then property-based requests (fast-check) for every
// command of the contract: whatever passes validation is answered ok or with a typed error,
// never an 'internal' one (no handler throws past validation).
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { commands, type ApiErrorCode } from '../../../src/shared/api'
import { startBridge, type Bridge } from '../../../src/main/bridge'
import { createSession } from '../../../src/main/host/handlers'
import { tempApp } from '../host/helpers'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const CODES: ApiErrorCode[] = [
  'invalid_request',
  'unknown_command',
  'not_found',
  'conflict',
  'unauthorized',
  'unavailable',
  'internal'
]
// Engine processes are never started here: a job that would need one fails at once, typed.
let app: ReturnType<typeof tempApp>
let bridge: Bridge

beforeAll(async () => {
  app = tempApp({
    launcher: () => {
      throw new Error('no engine processes in the bridge load test')
    }
  })
  const s = app.store
  s.datasets.create({
    id: 'ds_a',
    name: 'alpha',
    format: 'npz',
    task: 'single',
    status: 'ready',
    classes: ['a', 'b'],
    counts: { train: 100, val: 10, test: 10 },
    meta: { size: [28, 28] }
  })
  s.datasets.create({ id: 'ds_b', name: 'broken', format: 'npz', task: 'single', status: 'failed' })
  s.runs.create({ id: 'run_a', name: 'a run', datasetId: 'ds_a', kind: 'grid', config: { metric: 'acc' } })
  s.runs.setStatus('run_a', 'done')
  for (let i = 0; i < 5; i++) {
    s.runs.createMember({
      id: `mem_${i}`,
      runId: 'run_a',
      name: `m${i}`,
      hyperparams: { lr: 1e-3, seed: i, arch: 'smallcnn' }
    })
    s.runs.updateMember(`mem_${i}`, {
      status: 'done',
      checkpointPath: `runs/run_a/members/mem_${i}`,
      epochs: 2,
      wallSeconds: 3,
      backend: 'wasm'
    })
  }
  bridge = await startBridge({ app, rendererDir: app.workspace.dir })
})

afterAll(async () => {
  await bridge?.close()
  await app?.cleanup()
})

type Reply = {
  id: number | null
  reply: { ok: true; data: unknown } | { ok: false; error: { code: ApiErrorCode; message: string } }
}
type Kind = 'valid' | 'invalid' | 'unknown' | 'frame'

/** The i-th request of a client: what to send and what kind of answer it must get. */
function requestOf(i: number, id: number): { text: string; kind: Kind } {
  const call = (command: string, request: unknown): string => JSON.stringify({ id, command, request })
  switch (i % 10) {
    case 0:
      return { text: call('listDatasets', { limit: 50 }), kind: 'valid' }
    case 1:
      return { text: call('getDataset', { id: 'ds_a' }), kind: 'valid' }
    case 2:
      return { text: call('getRun', { id: 'run_a' }), kind: 'valid' }
    case 3:
      return { text: call('listMembers', { runId: 'run_a' }), kind: 'valid' }
    case 4:
      return {
        text: call('estimateRun', {
          datasetId: 'ds_a',
          plan: 'grid',
          arch: 'smallcnn',
          lrs: [1e-3, 1e-4],
          seeds: [0],
          augs: ['none'],
          epochs: 2
        }),
        kind: 'valid'
      }
    case 5:
      return { text: call('listJobs', { limit: 20 }), kind: 'valid' }
    case 6:
      return { text: call('getDataset', { id: 42, extra: true }), kind: 'invalid' }
    case 7:
      return { text: call('dropAllTables', {}), kind: 'unknown' }
    case 8:
      return { text: i % 20 === 8 ? '{"id": 1, "command": ' : '[1,2,3]', kind: 'frame' }
    default:
      return { text: call('workspaceInfo', {}), kind: 'valid' }
  }
}

/** One client: 200 requests, up to 10 in flight; answers the replies it got, by kind. */
function client(c: number): Promise<{ byKind: Record<Kind, Reply[]>; ms: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(bridge.wsUrl)
    const byKind: Record<Kind, Reply[]> = { valid: [], invalid: [], unknown: [], frame: [] }
    const kinds = new Map<number, Kind>()
    let sent = 0
    let got = 0
    const t0 = Date.now()
    const pump = (): void => {
      while (sent < 200 && sent - got < 10) {
        const id = c * 1000 + sent
        const r = requestOf(sent, id)
        if (r.kind !== 'frame') kinds.set(id, r.kind)
        ws.send(r.text)
        sent++
      }
    }
    ws.on('open', pump)
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Reply
      byKind[m.id === null ? 'frame' : (kinds.get(m.id) ?? 'valid')].push(m)
      if (++got === 200) {
        ws.close()
        resolve({ byKind, ms: Date.now() - t0 })
      } else pump()
    })
    ws.on('error', reject)
  })
}

describe('bridge under load', () => {
  it('50 clients × 200 mixed requests: valid ones all ok, malformed ones typed errors, bounded time, memory back near its start', async () => {
    await client(99) // warm-up: the first estimate loads the engine's plan builder and backend probe
    gc()
    const heap0 = process.memoryUsage().heapUsed
    const t0 = Date.now()
    const results = await Promise.all(Array.from({ length: 50 }, (_, c) => client(c)))
    const seconds = (Date.now() - t0) / 1000
    const all = (k: Kind): Reply[] => results.flatMap((r) => r.byKind[k])
    expect(all('valid')).toHaveLength(50 * 140)
    expect(all('valid').filter((r) => !r.reply.ok)).toEqual([])
    for (const k of ['invalid', 'unknown', 'frame'] as const) {
      expect(all(k)).toHaveLength(50 * 20)
      for (const r of all(k)) {
        expect(r.reply.ok).toBe(false)
        if (r.reply.ok) continue
        expect(r.reply.error.code).toBe(k === 'unknown' ? 'unknown_command' : 'invalid_request')
        expect(r.reply.error.message).toMatch(/^[a-z].{10,}/)
      }
    }
    expect(seconds).toBeLessThan(45)
    gc()
    await new Promise((r) => setTimeout(r, 200))
    gc()
    const grown = (process.memoryUsage().heapUsed - heap0) / 2 ** 20
    console.log(
      `bridge load: 10,000 requests from 50 clients in ${seconds.toFixed(1)} s; heap ${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB after`
    )
    expect(grown).toBeLessThan(25)
  }, 120_000)
})

describe('every contract command, fuzzed', () => {
  const ids = ['ds_a', 'ds_b', 'run_a', 'mem_0', 'job_x', '', 'x'.repeat(300), '../../etc', 'ds_a\u0000']
  // biased towards plausible values (known ids, small numbers, enum-like words), so that many
  // requests pass validation and reach the handlers
  const value = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...ids) },
    { weight: 3, arbitrary: fc.integer({ min: -2, max: 300 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'grid',
        'fgg',
        'pretrain',
        'smallcnn',
        'acc',
        'kappa',
        'best',
        'uniform',
        'npz',
        'auto',
        'selftest',
        'fuse',
        'test'
      )
    },
    { weight: 1, arbitrary: fc.string() },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constant(null) },
    {
      weight: 2,
      arbitrary: fc.array(
        fc.oneof(fc.constantFrom(...ids), fc.constantFrom(1e-3, 1e-4, 0, 2), fc.constantFrom('none', 'heavy')),
        { maxLength: 3 }
      )
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }
  )
  const names = Object.keys(commands).filter((n) => n !== 'subscribeJobs' && n !== 'unsubscribeJobs')

  it('no handler throws past validation: every reply is ok or a typed, non-internal error with a sentence', async () => {
    const session = createSession(() => undefined)
    let validated = 0
    for (const name of names) {
      const schema = (commands as Record<string, { request: { shape?: Record<string, unknown> } }>)[name].request
      const keys = Object.keys(schema.shape ?? {})
      const request = fc.oneof(
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
        {
          weight: 4,
          arbitrary: keys.length
            ? fc.record(Object.fromEntries(keys.map((k) => [k, value])), { requiredKeys: [] })
            : fc.constant({})
        }
      )
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const reply = await app.dispatch(name, req, session)
          if (reply.ok) {
            validated++
            return
          }
          if (reply.error.code !== 'invalid_request') validated++
          expect(CODES).toContain(reply.error.code)
          expect(reply.error.code, `${name} ${JSON.stringify(req)}: ${reply.error.message}`).not.toBe('internal')
          expect(reply.error.message).not.toContain('[object Object]')
          expect(reply.error.message.length).toBeGreaterThan(5)
        }),
        { numRuns: 60, seed: 7 }
      )
    }
    // the fuzzing reached the handlers, not only the validators
    expect(validated).toBeGreaterThan(names.length * 10)
  }, 120_000)
})
