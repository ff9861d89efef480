/**
 * The contract over a WebSocket on 127.0.0.1, plus the built renderer (out/renderer) as
 * static files, for a browser on this machine (headless boxes, browser tests).
 *
 * Security: a random per-launch token must come with every request: `?token=` in the URL
 * (the printed `http://127.0.0.1:PORT/?token=...`), an `Authorization: Bearer` header, or
 * the HttpOnly cookie set on the first authorised page load (so the page's own scripts
 * and styles load). The WebSocket checks it at upgrade. Tokens are compared in constant
 * time. Requests whose Origin or Host is not a loopback address are refused (DNS
 * rebinding, other sites). Static files never leave the renderer folder.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { WebSocketServer, type WebSocket } from 'ws'
import type { BridgeCall, BridgeMessage } from '../shared/bridge-client'
import type { App } from './host/app'
import { closeSession, createSession } from './host/handlers'

/** The built renderer folder (electron-vite's output). */
export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../out/renderer', import.meta.url))

/** Options of startBridge. */
export interface BridgeOptions {
  app: App
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number
  /** Folder of the built renderer (default out/renderer). */
  rendererDir?: string
  /** Token to require (default: 32 random bytes, hex). */
  token?: string
}

/** A running bridge. */
export interface Bridge {
  port: number
  token: string
  /** The page URL with its token: `http://127.0.0.1:PORT/?token=...`. */
  url: string
  /** The WebSocket URL with its token. */
  wsUrl: string
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8'
}

/** Largest WebSocket frame accepted, bytes. */
const MAX_FRAME = 16 * 1024 * 1024

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d+)?$/i

/** True when an Origin header is absent or names a loopback http(s) origin. */
export function isLoopbackOrigin(origin: string | undefined): boolean {
  if (origin === undefined) return true
  try {
    const u = new URL(origin)
    return (u.protocol === 'http:' || u.protocol === 'https:') && LOOPBACK_HOST.test(u.host)
  } catch {
    return false
  }
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  // Compare equal-length buffers only, so the time spent says nothing about the token.
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return undefined
}

const NOT_BUILT_PAGE = `<!doctype html><meta charset="utf-8"><title>FissionFusion</title>
<body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>FissionFusion: the interface is not built</h1>
<p>The bridge is running, but the renderer has not been built yet. Run <code>npm run build</code>
in the project folder, then reload this page.</p></body>`

/** Starts the bridge on 127.0.0.1. */
export async function startBridge(o: BridgeOptions): Promise<Bridge> {
  const token = o.token ?? randomBytes(32).toString('hex')
  const root = resolve(o.rendererDir ?? DEFAULT_RENDERER_DIR)
  let cookieName = 'ff_token'

  function authorised(req: IncomingMessage, url: URL): boolean {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    return [url.searchParams.get('token') ?? undefined, bearer, cookie(req.headers.cookie, cookieName)].some((t) =>
      sameSecret(t, token)
    )
  }

  function refusal(req: IncomingMessage, url: URL): [number, string] | null {
    if (!LOOPBACK_HOST.test(req.headers.host ?? '')) return [403, 'host not allowed']
    if (!isLoopbackOrigin(req.headers.origin)) return [403, 'origin not allowed']
    if (!authorised(req, url)) return [401, 'missing or wrong token']
    return null
  }

  function serveStatic(url: URL, res: ServerResponse): void {
    const indexFile = join(root, 'index.html')
    if (!existsSync(indexFile)) {
      res.writeHead(503, { 'Content-Type': MIME['.html'] }).end(NOT_BUILT_PAGE)
      return
    }
    let path: string
    try {
      path = decodeURIComponent(url.pathname)
    } catch {
      res.writeHead(400).end('bad path')
      return
    }
    const file = resolve(root, '.' + (path.endsWith('/') ? path + 'index.html' : path))
    if (path.includes('\0') || (file !== root && !file.startsWith(root + sep))) {
      res.writeHead(403).end('forbidden')
      return
    }
    let target = file
    if (!existsSync(target) || !statSync(target).isFile()) {
      // Client-side routes (no extension) get the app; a missing asset is a 404.
      if (extname(path) !== '') {
        res.writeHead(404).end('not found')
        return
      }
      target = indexFile
    }
    res
      .writeHead(200, { 'Content-Type': MIME[extname(target).toLowerCase()] ?? 'application/octet-stream' })
      .end(readFileSync(target))
  }

  const server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('Cache-Control', 'no-store')
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const refused = refusal(req, url)
    if (refused) {
      res.writeHead(refused[0], { 'Content-Type': 'text/plain; charset=utf-8' }).end(refused[1])
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end('method not allowed')
      return
    }
    if (url.searchParams.has('token')) {
      res.setHeader('Set-Cookie', `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`)
    }
    serveStatic(url, res)
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const refused = url.pathname === '/ws' ? refusal(req, url) : ([404, 'not found'] as [number, string])
    if (refused) {
      socket.end(
        `HTTP/1.1 ${refused[0]} ${refused[0] === 401 ? 'Unauthorized' : refused[0] === 403 ? 'Forbidden' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`
      )
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveSocket(ws))
  })

  function serveSocket(ws: WebSocket): void {
    const send = (m: BridgeMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m))
    }
    const session = createSession((event, payload) => send({ event, payload }))
    ws.on('close', () => closeSession(session))
    ws.on('message', (data, isBinary) => {
      let call: Partial<BridgeCall>
      try {
        if (isBinary) throw new Error('binary frame')
        call = JSON.parse(String(data)) as Partial<BridgeCall>
        if (typeof call !== 'object' || call === null || typeof call.id !== 'number') throw new Error('no numeric id')
      } catch (e) {
        send({
          id: null,
          reply: {
            ok: false,
            error: {
              code: 'invalid_request',
              message: `unreadable frame: ${(e as Error).message}; expected {id, command, request}`
            }
          }
        })
        return
      }
      const id = call.id
      void o.app.dispatch(String(call.command), call.request, session).then((reply) => send({ id, reply }))
    })
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 0, '127.0.0.1', () => resolveListen())
  })
  const port = (server.address() as AddressInfo).port
  cookieName = `ff_token_${port}` // cookies ignore ports: one name per bridge
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    wsUrl: `ws://127.0.0.1:${port}/ws?token=${token}`,
    close: () =>
      new Promise<void>((done) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => done())
      })
  }
}
