/** An error as the interface shows it. */
export interface UiError {
  /** One plain sentence for a clinician: what went wrong and, if possible, what to do. */
  message: string
  /** Technical details (error code, validation issues, stack) shown on request. */
  details?: string
}

/**
 * Turns anything thrown by a command into a UiError.
 * @param action what the user was doing, e.g. "Importing the dataset"
 * @param error what was thrown
 */
export function toUiError(action: string, error: unknown): UiError {
  if (error instanceof Error) {
    const details = [error.name !== 'Error' ? error.name : '', error.stack ?? ''].filter(Boolean).join('\n')
    return { message: `${action} failed: ${error.message}`, details: details || undefined }
  }
  return { message: `${action} failed.`, details: typeof error === 'string' ? error : JSON.stringify(error, null, 2) }
}
