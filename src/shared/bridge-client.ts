/**
 * The contract over a WebSocket (the loopback bridge, src/main/bridge.ts): wire format and
 * the client transport. Usable in the browser (global WebSocket) and in Node (pass the `ws`
 * package's WebSocket). `createClient(createBridgeTransport(url))` gives the typed Api.
 *
 * Wire format (JSON text frames):
 *   client → server  { id: number, command: string, request: unknown }
 *   server → client  { id: number | null, reply: Reply }      (id null: the frame was unreadable)
 *                    { event: string, payload: unknown }
 * The URL carries the per-launch token: `ws://127.0.0.1:PORT/ws?token=...`.
 */
import type { Reply, Transport } from './api'

/** A call frame. */
export interface BridgeCall {
  id: number
  command: string
  request: unknown
}

/** A frame from the server. */
export type BridgeMessage = { id: number | null; reply: Reply } | { event: string; payload: unknown }

/** The subset of the WebSocket interface used here (browser WebSocket or the `ws` package). */
export interface SocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'close' | 'error', listener: (ev: unknown) => void): void
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void
}

/** A WebSocket constructor. */
export type SocketFactory = new (url: string) => SocketLike

/** A Transport over one WebSocket, plus its lifecycle. */
export interface BridgeTransport extends Transport {
  /** Resolves once connected; rejects if the connection is refused. */
  ready: Promise<void>
  /** Calls `listener` when the connection closes (code as given by the server). */
  onClose(listener: (code: number) => void): void
  close(): void
}

/** The bridge URL for a page served by the bridge: same host, `/ws`, token from the page's `?token=`. */
export function bridgeUrlFromPage(location: { host: string; search: string }): string {
  const token = new URLSearchParams(location.search).get('token') ?? ''
  return `ws://${location.host}/ws?token=${encodeURIComponent(token)}`
}

/** Connects to the bridge at `url` (which includes `?token=`). */
export function createBridgeTransport(
  url: string,
  Socket: SocketFactory = (globalThis as unknown as { WebSocket: SocketFactory }).WebSocket
): BridgeTransport {
  const socket = new Socket(url)
  const pending = new Map<number, (reply: Reply) => void>()
  const listeners = new Map<string, Set<(payload: unknown) => void>>()
  const closeListeners: Array<(code: number) => void> = []
  let nextId = 1
  let closed = false

  const ready = new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve())
    socket.addEventListener('error', () =>
      reject(new Error(`cannot connect to ${url.replace(/token=[^&]*/, 'token=…')}`))
    )
  })
  ready.catch(() => undefined) // the error is also reported through calls and onClose

  socket.addEventListener('message', (ev) => {
    let msg: BridgeMessage
    try {
      msg = JSON.parse(String(ev.data)) as BridgeMessage
    } catch {
      return
    }
    if ('event' in msg) {
      for (const l of listeners.get(msg.event) ?? []) l(msg.payload)
    } else if (msg.id !== null) {
      pending.get(msg.id)?.(msg.reply)
      pending.delete(msg.id)
    }
  })
  socket.addEventListener('close', (ev) => {
    closed = true
    const code = (ev as { code?: number }).code ?? 1006
    for (const resolve of pending.values())
      resolve({ ok: false, error: { code: 'unavailable', message: `bridge connection closed (${code})` } })
    pending.clear()
    for (const l of closeListeners) l(code)
  })

  return {
    ready,
    async invoke(command, request) {
      try {
        await ready
      } catch (e) {
        return { ok: false, error: { code: 'unavailable', message: (e as Error).message } }
      }
      if (closed) return { ok: false, error: { code: 'unavailable', message: 'bridge connection closed' } }
      const id = nextId++
      return new Promise<Reply>((resolve) => {
        pending.set(id, resolve)
        socket.send(JSON.stringify({ id, command, request } satisfies BridgeCall))
      })
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set()
      set.add(listener)
      listeners.set(event, set)
      return () => set.delete(listener)
    },
    onClose(listener) {
      closeListeners.push(listener)
    },
    close() {
      socket.close(1000, 'client closed')
    }
  }
}
