/**
 * Electron bootstrap: opens the workspace (engine jobs in utilityProcesses), one secure
 * window, and the contract over IPC. Everything else lives in host/ and the renderer.
 */
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { writeFileSync } from 'node:fs'
import { app, BrowserWindow, session } from 'electron'
import type { SelfCheckReport } from '../shared/api'
import { openApp } from './host/app'
import { createSession } from './host/handlers'
import type { App } from './host/app'
import { chooseWorkspaceDir } from './workspace'
import { bindIpc } from './ipc'
import { utilityLauncher } from './utility-launcher'
import { startupFailureUrl, workspaceActions } from './startup-page'
import {
  CONTENT_SECURITY_POLICY,
  DEV_CONTENT_SECURITY_POLICY,
  isAllowedNavigation,
  windowOptions,
  withCsp
} from './window-options'
import { errorText } from '../shared/errors'

const here = fileURLToPath(new URL('.', import.meta.url))
let core: App | undefined

// Chromium's profile, locks and crash dumps go beside the workspace, never into it: the default
// workspace is the OS user-data folder, and Workspace.open refuses a non-empty non-workspace folder.
app.setPath('userData', join(app.getPath('appData'), 'FissionFusion-browser'))

function createWindow(workspace: App): BrowserWindow {
  const win = new BrowserWindow(windowOptions(join(here, '../preload/index.cjs')))
  const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined
  const appUrl = devUrl ?? pathToFileURL(join(here, '../renderer/index.html')).href

  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }))
  win.webContents.on('will-navigate', (event, url) => {
    if (!isAllowedNavigation(url, appUrl)) event.preventDefault()
  })
  win.webContents.on('will-redirect', (event, url) => {
    if (!isAllowedNavigation(url, appUrl)) event.preventDefault()
  })
  win.webContents.on('will-attach-webview', (event) => event.preventDefault())
  bindIpc(workspace.dispatch, win)
  win.once('ready-to-show', () => win.show())
  // The interface itself failed to load (a broken install): say so instead of a blank window.
  win.webContents.on('did-fail-load', (_event, code, description, url) => {
    if (url === appUrl)
      void win.loadURL(
        startupFailureUrl('the interface did not load', `${description} (${code})`, [
          'Reinstall the app.',
          'Run `fissionfusion doctor` in a terminal to check the engine.'
        ])
      )
  })
  void win.loadURL(appUrl)
  return win
}

/**
 * `npm run smoke:desktop` (FF_SMOKE_SCREENSHOT=file.png): once the self-check has answered and
 * the page has drawn, saves a screenshot, prints the self-check as JSON and quits (exit 0 when
 * no check failed).
 */
async function smoke(win: BrowserWindow, report: SelfCheckReport): Promise<void> {
  if (win.webContents.isLoading())
    await new Promise<void>((resolve) => win.webContents.once('did-finish-load', () => resolve()))
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const image = await win.webContents.capturePage()
  writeFileSync(process.env.FF_SMOKE_SCREENSHOT!, image.toPNG())
  process.stdout.write(JSON.stringify(report) + '\n')
  app.exit(report.ok ? 0 : 1)
}

function lockDownSession(): void {
  const ses = session.defaultSession
  // No remote content: only the app's files (and the dev server while developing).
  const devOrigin =
    !app.isPackaged && process.env.ELECTRON_RENDERER_URL ? new URL(process.env.ELECTRON_RENDERER_URL).origin : undefined
  const csp = devOrigin ? DEV_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY
  ses.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: withCsp(details.responseHeaders, csp) })
  )
  ses.webRequest.onBeforeRequest((details, callback) => {
    const url = new URL(details.url)
    const local =
      url.protocol === 'file:' ||
      url.protocol === 'data:' ||
      url.protocol === 'devtools:' ||
      (devOrigin !== undefined && url.origin === devOrigin)
    const devSocket =
      devOrigin !== undefined &&
      (url.protocol === 'ws:' || url.protocol === 'wss:') &&
      url.hostname === new URL(devOrigin).hostname
    callback({ cancel: !(local || devSocket) })
  })
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false))
  ses.setPermissionCheckHandler(() => false)
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus())
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
  // Engine processes of a packaged app find the native binaries built for Electron here.
  if (app.isPackaged) process.env.FF_RESOURCES_DIR ??= process.resourcesPath
  void app.whenReady().then(() => {
    lockDownSession()
    try {
      core = openApp({
        workspaceDir: chooseWorkspaceDir(),
        launcher: utilityLauncher(join(here, 'engine.js'))
      })
    } catch (e) {
      // A readable page (what failed, what to do) instead of an error box and a quit.
      const win = new BrowserWindow(windowOptions(join(here, '../preload/index.cjs')))
      win.once('ready-to-show', () => win.show())
      void win.loadURL(startupFailureUrl('the workspace cannot be opened', errorText(e), workspaceActions(e)))
      if (process.env.FF_SMOKE_SCREENSHOT) void smoke(win, { ok: false, checks: [] })
      return
    }
    const win = createWindow(core)
    if (process.env.FF_SMOKE_SCREENSHOT) {
      const session = createSession(() => undefined)
      void core
        .dispatch('selfCheck', {}, session)
        .then((r) => smoke(win, r.ok ? (r.data as SelfCheckReport) : { ok: false, checks: [] }))
    }
    app.on('activate', () => {
      if (core && BrowserWindow.getAllWindows().length === 0) createWindow(core)
    })
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
  app.on('will-quit', (event) => {
    if (!core) return
    event.preventDefault()
    const closing = core
    core = undefined
    void closing.close().finally(() => app.quit())
  })
}
