/**
 * An in-memory transport for renderer tests: the real client (createClient) over answers
 * given per command, recording every call; events are pushed with `emit`.
 */
import { ApiCallError, createClient } from '../../src/shared/api'
import type { Api, ApiError, CommandName, Reply } from '../../src/shared/api'

/** How the fake main side answers a command: a value, or a thrown ApiCallError. */
export type FakeHandler = (request: Record<string, unknown>) => unknown

/** The fake API and what was asked of it. */
export interface FakeApi {
  api: Api
  /** Every call, in order. */
  calls: { command: string; request: Record<string, unknown> }[]
  /** Pushes an event to the listeners. */
  emit(event: string, payload: unknown): void
}

/** Builds a fake API answering `handlers`; other commands fail with 'unknown_command'. */
export function fakeApi(handlers: Partial<Record<CommandName, FakeHandler>>): FakeApi {
  const calls: FakeApi['calls'] = []
  const listeners = new Map<string, Set<(p: unknown) => void>>()
  const api = createClient({
    async invoke(command, request): Promise<Reply> {
      const req = (request ?? {}) as Record<string, unknown>
      calls.push({ command, request: req })
      const handler = handlers[command as CommandName]
      if (!handler) return { ok: false, error: { code: 'unknown_command', message: `no fake for ${command}` } }
      try {
        return { ok: true, data: await handler(req) }
      } catch (e) {
        const error: ApiError = e instanceof ApiCallError ? e.toJSON() : { code: 'internal', message: String(e) }
        return { ok: false, error }
      }
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set()
      set.add(listener)
      listeners.set(event, set)
      return () => set.delete(listener)
    }
  })
  return { api, calls, emit: (event, payload) => listeners.get(event)?.forEach((l) => l(payload)) }
}
