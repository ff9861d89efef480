/**
 * The preload: exposes exactly the contract (src/shared/api.ts) as `window.api`, over
 * Electron IPC, and nothing else (no ipcRenderer, no Node).
 */
import { contextBridge, ipcRenderer } from 'electron'
import type { IpcRendererEvent } from 'electron'
import { createClient } from '../shared/api'
import type { Reply, Transport } from '../shared/api'
import { IPC_CHANNELS } from '../shared/channels'

const transport: Transport = {
  async invoke(command, request) {
    try {
      return (await ipcRenderer.invoke(IPC_CHANNELS.invoke, command, request)) as Reply
    } catch (e) {
      return { ok: false, error: { code: 'unavailable', message: e instanceof Error ? e.message : String(e) } }
    }
  },
  on(event, listener) {
    const handler = (_e: IpcRendererEvent, name: unknown, payload: unknown): void => {
      if (name === event) listener(payload)
    }
    ipcRenderer.on(IPC_CHANNELS.event, handler)
    return () => {
      ipcRenderer.removeListener(IPC_CHANNELS.event, handler)
    }
  }
}

contextBridge.exposeInMainWorld('api', createClient(transport))
