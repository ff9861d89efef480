import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiCallError, createClient } from '../../../src/shared/api'
import { createBridgeTransport, type SocketFactory } from '../../../src/shared/bridge-client'
import type { JobEvent } from '../../../src/shared/records'
import { isLoopbackOrigin, startBridge, type Bridge } from '../../../src/main/bridge'
import { tempApp } from '../host/helpers'

let app: ReturnType<typeof tempApp>
let bridge: Bridge
let root: string

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A raw GET (the path is sent as given, unnormalised). */
function get(path: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: bridge.port, path, headers }, (res) => {
      let body = ''
      res
        .setEncoding('utf8')
        .on('data', (c) => (body += c))
        .on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Opens a raw WebSocket; resolves 'open' or the HTTP status it was refused with. */
function tryWs(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers })
    ws.on('open', () => {
      ws.close()
      resolve('open')
    })
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!))
    ws.on('error', () => undefined)
  })
}

function client() {
  const transport = createBridgeTransport(bridge.wsUrl, WebSocket as unknown as SocketFactory)
  return { api: createClient(transport), transport }
}

beforeAll(async () => {
  app = tempApp()
  root = mkdtempSync(join(tmpdir(), 'ff-renderer-'))
  mkdirSync(join(root, 'site', 'assets'), { recursive: true })
  writeFileSync(
    join(root, 'site', 'index.html'),
    '<!doctype html><title>FF app</title><script src="/assets/app.js"></script>'
  )
  writeFileSync(join(root, 'site', 'assets', 'app.js'), 'console.log(1)')
  writeFileSync(join(root, 'site', 'assets', 'kernel.wasm'), Buffer.from([0, 97, 115, 109]))
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET')
  bridge = await startBridge({ app, rendererDir: join(root, 'site') })
})

afterAll(async () => {
  await bridge.close()
  await app.cleanup()
  rmSync(root, { recursive: true, force: true })
})

describe('bridge: the contract over a loopback WebSocket', () => {
  it('listens on 127.0.0.1 with a random port and a long random token in the printed URL', () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/)
    expect(bridge.port).toBeGreaterThan(0)
  })

  it('refuses a WebSocket without the token, or with a wrong one (401)', async () => {
    expect(await tryWs(`ws://127.0.0.1:${bridge.port}/ws`)).toBe(401)
    expect(await tryWs(`ws://127.0.0.1:${bridge.port}/ws?token=${'0'.repeat(64)}`)).toBe(401)
    expect(await tryWs(`ws://127.0.0.1:${bridge.port}/ws?token=${bridge.token.slice(0, 10)}`)).toBe(401)
    const { api, transport } = createClientFor(`ws://127.0.0.1:${bridge.port}/ws?token=wrong`)
    await expect(api.workspaceInfo()).rejects.toMatchObject({ code: 'unavailable' })
    transport.close()
  })

  it('refuses a non-loopback Origin or Host even with the token (403)', async () => {
    expect(await tryWs(bridge.wsUrl, { Origin: 'https://evil.example' })).toBe(403)
    expect(await tryWs(bridge.wsUrl, { Host: 'evil.example' })).toBe(403)
    expect(await tryWs(bridge.wsUrl, { Origin: `http://127.0.0.1:${bridge.port}` })).toBe('open')
    expect(isLoopbackOrigin('http://localhost:5173')).toBe(true)
    expect(isLoopbackOrigin('http://[::1]:80')).toBe(true)
    expect(isLoopbackOrigin('http://127.0.0.1.evil.com')).toBe(false)
    expect(isLoopbackOrigin('null')).toBe(false)
  })

  it('answers typed commands with the token', async () => {
    const { api, transport } = client()
    const info = await api.workspaceInfo()
    expect(info).toMatchObject({ dir: app.workspace.dir, counts: { datasets: 0 } })
    expect(await api.listDatasets()).toEqual([])
    transport.close()
  })

  it('a malformed request gets a typed error (code, message, field issues) and the connection goes on', async () => {
    const { api, transport } = client()
    const bad = await api.getJob({ id: 42 as unknown as string }).catch((e: unknown) => e)
    expect(bad).toBeInstanceOf(ApiCallError)
    expect(bad).toMatchObject({ code: 'invalid_request', issues: [{ path: 'id' }] })
    expect((bad as Error).message).toMatch(/^invalid request for getJob: id: /)
    const extra = await api.listJobs({ limit: 5, bogus: true } as never).catch((e: ApiCallError) => e.toJSON())
    expect(extra).toMatchObject({
      code: 'invalid_request',
      issues: [{ path: '', message: expect.stringContaining('bogus') }]
    })
    const missing = await api.getRun({ id: 'run_nope' }).catch((e: ApiCallError) => e.toJSON())
    expect(missing).toEqual({ code: 'not_found', message: 'run run_nope not found' })
    const badParams = await api
      // @ts-expect-error -- steps must be a number: the contract's types say so, and the host refuses it at run time
      .startJob({ kind: 'selftest', params: { steps: 'many' } })
      .catch((e: ApiCallError) => e.toJSON())
    expect(badParams).toMatchObject({ code: 'invalid_request', issues: [{ path: 'params.steps' }] })
    expect(await transport.invoke('dropTables', {})).toEqual({
      ok: false,
      error: { code: 'unknown_command', message: "unknown command 'dropTables'" }
    })
    expect((await api.workspaceInfo()).dir).toBe(app.workspace.dir)
    transport.close()
  })

  it('an unreadable frame gets a typed error with id null, not a crash', async () => {
    const ws = new WebSocket(bridge.wsUrl)
    await new Promise((r) => ws.once('open', r))
    const replies: unknown[] = []
    ws.on('message', (d) => replies.push(JSON.parse(String(d))))
    ws.send('{not json')
    ws.send(JSON.stringify({ command: 'workspaceInfo' }))
    ws.send(JSON.stringify({ id: 7, command: 'workspaceInfo', request: null }))
    for (let waited = 0; replies.length < 3 && waited < 10_000; waited += 20)
      await new Promise((r) => setTimeout(r, 20))
    expect(replies[0]).toMatchObject({ id: null, reply: { ok: false, error: { code: 'invalid_request' } } })
    expect(replies[1]).toMatchObject({
      id: null,
      reply: { ok: false, error: { code: 'invalid_request', message: expect.stringContaining('no numeric id') } }
    })
    expect(replies[2]).toMatchObject({ id: 7, reply: { ok: true } })
    ws.close()
  })

  it('starts a job and streams its events to a subscriber', async () => {
    const { api, transport } = client()
    const events: JobEvent[] = []
    api.on('jobEvent', (e) => events.push(e))
    const job = await api.startJob({ kind: 'selftest', params: { steps: 3, stepMs: 10 } })
    const { backlog } = await api.subscribeJobs({ jobId: job.id })
    await new Promise<void>((resolve) => {
      const check = (): void =>
        [...backlog, ...events].some((e) => e.type === 'completed') ? resolve() : void setTimeout(check, 50)
      check()
    })
    const types = [...backlog, ...events].map((e) => e.type)
    expect(types[0]).toBe('started')
    expect(types.filter((t) => t === 'progress')).toHaveLength(3)
    expect(types.at(-1)).toBe('completed')
    expect((await api.getJob({ id: job.id })).status).toBe('completed')
    transport.close()
  })

  it('browseFolder lists names only', async () => {
    const { api, transport } = client()
    const listing = await api.browseFolder({ path: root })
    expect(listing.entries).toEqual([
      { name: 'site', kind: 'dir' },
      { name: 'secret.txt', kind: 'file' }
    ])
    expect(JSON.stringify(listing)).not.toContain('TOP SECRET')
    expect(listing.parent).toBe(tmpdir())
    await expect(api.browseFolder({ path: join(root, 'nope') })).rejects.toMatchObject({ code: 'not_found' })
    await expect(api.browseFolder({ path: join(root, 'secret.txt') })).rejects.toMatchObject({
      code: 'invalid_request'
    })
    transport.close()
  })
})

function createClientFor(url: string) {
  const transport = createBridgeTransport(url, WebSocket as unknown as SocketFactory)
  return { api: createClient(transport), transport }
}

describe('bridge: static files', () => {
  it('refuses every HTTP request without the token (401)', async () => {
    expect((await get('/')).status).toBe(401)
    expect((await get('/assets/app.js')).status).toBe(401)
    expect((await get(`/?token=${'f'.repeat(64)}`)).status).toBe(401)
  })

  it('serves the page with the token and sets an HttpOnly cookie that authorises its assets', async () => {
    const page = await get(`/?token=${bridge.token}`)
    expect(page.status).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('FF app')
    const setCookie = String(page.headers['set-cookie'])
    expect(setCookie).toContain(`ff_token_${bridge.port}=${bridge.token}`)
    expect(setCookie).toMatch(/HttpOnly; SameSite=Strict/)
    const cookie = `ff_token_${bridge.port}=${bridge.token}`
    const js = await get('/assets/app.js', { Cookie: cookie })
    expect(js).toMatchObject({ status: 200, body: 'console.log(1)' })
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect((await get('/assets/kernel.wasm', { Cookie: cookie })).headers['content-type']).toBe('application/wasm')
    expect((await get('/assets/missing.js', { Cookie: cookie })).status).toBe(404)
    expect((await get('/runs/run_1', { Cookie: cookie })).body).toContain('FF app') // client-side route
    expect((await get('/assets/app.js', { Authorization: `Bearer ${bridge.token}` })).status).toBe(200)
  })

  it('never serves a file outside the renderer folder', async () => {
    const auth = { Authorization: `Bearer ${bridge.token}` }
    for (const path of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/%2e%2e%5csecret.txt',
      '/assets/%00'
    ]) {
      const res = await get(path, auth)
      expect(res.body).not.toContain('TOP SECRET')
      expect(res.status).not.toBe(200)
    }
  })

  it('refuses a foreign Origin on HTTP too', async () => {
    expect((await get(`/?token=${bridge.token}`, { Origin: 'https://evil.example' })).status).toBe(403)
  })

  it('says to run npm run build when the renderer is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ff-empty-'))
    const b = await startBridge({ app, rendererDir: empty })
    try {
      const res = await fetch(b.url)
      expect(res.status).toBe(503)
      expect(await res.text()).toContain('npm run build')
    } finally {
      await b.close()
      rmSync(empty, { recursive: true, force: true })
    }
  })
})
