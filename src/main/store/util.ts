/** Small helpers shared by the repositories. */
import { randomBytes } from 'node:crypto'
import type { Json } from '../../shared/records'

/** Current time as an ISO-8601 UTC string. */
export function now(): string {
  return new Date().toISOString()
}

/** A new id: `prefix_` + time (base36, sorts by creation) + 6 random base32 characters. */
export function newId(prefix: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const random = Array.from(randomBytes(6), (b) => alphabet[b & 31]).join('')
  return `${prefix}_${Date.now().toString(36)}${random}`
}

/** Serialises a value for a `*_json` column (undefined → null). */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null)
}

/** Parses a `*_json` column. */
export function fromJson<T = Json>(text: string | null): T {
  return (text == null ? null : JSON.parse(text)) as T
}

/**
 * Checks a path about to be stored: relative to the workspace, `/`-separated, not leaving
 * it (so a workspace can move and no absolute local path is ever recorded). Null passes.
 */
export function relPath(path: string | null | undefined, field: string): string | null {
  if (path == null) return null
  if (/^([a-zA-Z]:)?[\\/]/.test(path) || path.includes('\\') || path.split('/').includes('..')) {
    throw new Error(`${field} must be a path relative to the workspace with / separators, got '${path}'`)
  }
  return path
}
