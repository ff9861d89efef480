/**
 * Binds the contract (src/shared/api.ts) to Electron IPC: one `invoke` channel for every
 * command, answered by the app's dispatcher (which validates each request against the
 * contract's zod schema), and one `event` channel for the events the window subscribed to.
 * Only the app's own window may call. `choosePath` is answered here with a native dialog.
 */
import { dialog, ipcMain } from 'electron'
import type { BrowserWindow, IpcMainInvokeEvent } from 'electron'
import { commands, fieldIssues } from '../shared/api'
import type { ChosenPath, Reply } from '../shared/api'
import type { Dispatch, Session } from './host/handlers'
import { closeSession, createSession } from './host/handlers'
import { IPC_CHANNELS } from '../shared/channels'

/** Shows the native dialog a `choosePath` request asks for. */
async function choosePath(win: BrowserWindow, request: unknown): Promise<Reply> {
  const parsed = commands.choosePath.request.safeParse(request)
  if (!parsed.success) {
    return {
      ok: false,
      error: { code: 'invalid_request', message: 'invalid choosePath request', issues: fieldIssues(parsed.error) }
    }
  }
  const { purpose, title, defaultPath } = parsed.data
  let data: ChosenPath
  if (purpose === 'save') {
    const r = await dialog.showSaveDialog(win, { title, defaultPath })
    data = { path: r.canceled || !r.filePath ? null : r.filePath }
  } else {
    const r = await dialog.showOpenDialog(win, {
      title,
      defaultPath,
      properties: [purpose === 'folder' ? 'openDirectory' : 'openFile']
    })
    data = { path: r.canceled ? null : (r.filePaths[0] ?? null) }
  }
  return { ok: true, data }
}

/** Binds the contract for the app window; returns the function that unbinds it. */
export function bindIpc(dispatch: Dispatch, win: BrowserWindow): () => void {
  const contents = win.webContents
  const session: Session = createSession((event, payload) => {
    if (!contents.isDestroyed()) contents.send(IPC_CHANNELS.event, event, payload)
  })
  const handle = async (event: IpcMainInvokeEvent, command: unknown, request: unknown): Promise<Reply> => {
    // Requests from any other frame or window are refused: the window is the only client.
    if (event.sender !== contents || event.senderFrame !== contents.mainFrame) {
      return { ok: false, error: { code: 'unauthorized', message: 'request from an unknown frame' } }
    }
    if (command === 'choosePath') return choosePath(win, request)
    if (typeof command !== 'string')
      return { ok: false, error: { code: 'unknown_command', message: 'command name must be a string' } }
    return dispatch(command, request, session)
  }
  ipcMain.handle(IPC_CHANNELS.invoke, handle)
  const unbind = (): void => {
    ipcMain.removeHandler(IPC_CHANNELS.invoke)
    closeSession(session)
  }
  contents.once('destroyed', unbind)
  return unbind
}
