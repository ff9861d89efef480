/**
 * A connected client of the contract (an Electron window, a bridge WebSocket, a test) and the
 * subscriptions it holds. A leaf of the host.
 */
import type { EventName, EventPayload } from '../../shared/api'

/** One connected client (an Electron window, a bridge WebSocket, a test). */
export interface Session {
  /** Pushes an event to this client. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void
  /** What this session listens to, by name → function that stops it. */
  subscriptions: Map<string, () => void>
}

/** A new session that delivers events through `emit`. */
export function createSession(emit: (event: EventName, payload: unknown) => void): Session {
  return { emit: (event, payload) => emit(event, payload), subscriptions: new Map() }
}

/** Stops everything a session listens to (call when the client disconnects). */
export function closeSession(session: Session): void {
  for (const stop of session.subscriptions.values()) stop()
  session.subscriptions.clear()
}
