/**
 * One way to turn anything thrown into a sentence. Libraries throw strings (dicom-parser),
 * plain objects (`{ exception, dataSet }` from dicom-parser, `{ code, message }` from IPC), or
 * Errors without a message; `String(e)` on those gives `[object Object]`.
 */

/** The message of a thrown value: an Error's message, a string, or an object's `message` / `exception` / JSON. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name || 'unknown error'
  if (typeof e === 'string') return e || 'unknown error'
  if (e !== null && typeof e === 'object') {
    const o = e as Record<string, unknown>
    if ('exception' in o && o.exception !== undefined) return errorText(o.exception)
    if (typeof o.message === 'string' && o.message) return o.message
    if ('error' in o && o.error !== undefined) return errorText(o.error)
    try {
      const json = JSON.stringify(e)
      if (json && json !== '{}') return json.length > 300 ? `${json.slice(0, 300)}…` : json
    } catch {
      // circular: fall through to the constructor name
    }
    return `unknown error (${(o.constructor as { name?: string } | undefined)?.name ?? 'object'} without a message)`
  }
  return e === undefined ? 'unknown error' : String(e)
}
