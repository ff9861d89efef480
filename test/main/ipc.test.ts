/**
 * The IPC binding with Electron replaced by a recorder (its binary cannot run here): the real
 * dispatcher on a temporary workspace answers, so request validation is the contract's own.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

type Handler = (event: unknown, command: unknown, request: unknown) => Promise<unknown>
const electron = vi.hoisted(() => ({
  handlers: new Map<string, unknown>(),
  showOpenDialog: vi.fn(),
  showSaveDialog: vi.fn()
}))
vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, fn: unknown) => electron.handlers.set(channel, fn),
    removeHandler: (channel: string) => electron.handlers.delete(channel)
  },
  dialog: { showOpenDialog: electron.showOpenDialog, showSaveDialog: electron.showSaveDialog }
}))

const { bindIpc } = await import('../../src/main/ipc')
const { openApp } = await import('../../src/main/host/app')
const { IPC_CHANNELS } = await import('../../src/shared/channels')

/** A stand-in for the window's webContents: records what main sends to it. */
function fakeWindow() {
  const sent: unknown[][] = []
  const mainFrame = {}
  let destroyed: (() => void) | undefined
  const webContents = {
    mainFrame,
    isDestroyed: () => false,
    send: (...args: unknown[]) => sent.push(args),
    once: (_e: string, fn: () => void) => (destroyed = fn)
  }
  return { win: { webContents } as never, webContents, sent, destroy: () => destroyed?.() }
}

let dir: string
let app: ReturnType<typeof openApp>

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ff-ipc-'))
  app = openApp({ workspaceDir: dir })
})
afterEach(async () => {
  await app.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the contract over IPC', () => {
  it('answers commands from the window and validates every request with the contract', async () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    const invoke = electron.handlers.get(IPC_CHANNELS.invoke) as Handler
    const from = { sender: w.webContents, senderFrame: w.webContents.mainFrame }
    const info = (await invoke(from, 'workspaceInfo', {})) as { ok: boolean; data: { dir: string } }
    expect(info.ok).toBe(true)
    expect(info.data.dir).toBe(dir)
    const bad = (await invoke(from, 'getJob', { id: '../etc' })) as {
      ok: boolean
      error: { code: string; issues: { path: string }[] }
    }
    expect(bad.ok).toBe(false)
    expect(bad.error.code).toBe('invalid_request')
    expect(bad.error.issues[0].path).toBe('id')
    expect(((await invoke(from, 'dropTables', {})) as { error: { code: string } }).error.code).toBe('unknown_command')
  })

  it('refuses requests from any other frame or window', async () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    const invoke = electron.handlers.get(IPC_CHANNELS.invoke) as Handler
    const reply = (await invoke({ sender: w.webContents, senderFrame: {} }, 'workspaceInfo', {})) as {
      error: { code: string }
    }
    expect(reply.error.code).toBe('unauthorized')
    const other = (await invoke({ sender: {}, senderFrame: {} }, 'workspaceInfo', {})) as { error: { code: string } }
    expect(other.error.code).toBe('unauthorized')
  })

  it('forwards the job events the window subscribed to', async () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    const invoke = electron.handlers.get(IPC_CHANNELS.invoke) as Handler
    const from = { sender: w.webContents, senderFrame: w.webContents.mainFrame }
    await invoke(from, 'subscribeJobs', {})
    const started = (await invoke(from, 'startJob', { kind: 'selftest', params: { steps: 2, stepMs: 0 } })) as {
      data: { id: string }
    }
    await vi.waitFor(
      () => expect(w.sent.some((s) => (s[2] as { type: string; jobId: string }).type === 'completed')).toBe(true),
      { timeout: 60_000, interval: 100 }
    )
    expect(w.sent.every((s) => s[0] === IPC_CHANNELS.event && s[1] === 'jobEvent')).toBe(true)
    expect(w.sent.every((s) => (s[2] as { jobId: string }).jobId === started.data.id)).toBe(true)
  })

  it('answers choosePath with a native dialog, and a cancelled dialog with null', async () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    const invoke = electron.handlers.get(IPC_CHANNELS.invoke) as Handler
    const from = { sender: w.webContents, senderFrame: w.webContents.mainFrame }
    electron.showOpenDialog.mockResolvedValueOnce({ canceled: false, filePaths: ['/data/retina'] })
    expect(await invoke(from, 'choosePath', { purpose: 'folder' })).toEqual({
      ok: true,
      data: { path: '/data/retina' }
    })
    expect(electron.showOpenDialog.mock.calls[0][1].properties).toEqual(['openDirectory'])
    electron.showSaveDialog.mockResolvedValueOnce({ canceled: true, filePath: '' })
    expect(await invoke(from, 'choosePath', { purpose: 'save' })).toEqual({ ok: true, data: { path: null } })
    const bad = (await invoke(from, 'choosePath', { purpose: 'delete' })) as { error: { code: string } }
    expect(bad.error.code).toBe('invalid_request')
  })

  it('sends dataset thumbnails as PNG data URLs, never a file outside the dataset', async () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    const invoke = electron.handlers.get(IPC_CHANNELS.invoke) as Handler
    const from = { sender: w.webContents, senderFrame: w.webContents.mainFrame }
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])
    const ds = app.store.datasets.create({
      name: 'x',
      format: 'npz',
      task: 'single',
      meta: { thumbnails: { a: ['a0.png', '../../../fissionfusion.db', 'gone.png'] } }
    })
    mkdirSync(join(dir, 'datasets', ds.id, 'thumbs'), { recursive: true })
    writeFileSync(join(dir, 'datasets', ds.id, 'thumbs', 'a0.png'), png)
    const reply = (await invoke(from, 'datasetThumbnails', { id: ds.id })) as {
      ok: boolean
      data: Record<string, string[]>
    }
    expect(reply.data).toEqual({ a: [`data:image/png;base64,${png.toString('base64')}`] })
  })

  it('stops answering once the window is gone', () => {
    const w = fakeWindow()
    bindIpc(app.dispatch, w.win)
    w.destroy()
    expect(electron.handlers.has(IPC_CHANNELS.invoke)).toBe(false)
  })
})
