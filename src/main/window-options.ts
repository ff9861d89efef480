import type { BrowserWindowConstructorOptions } from 'electron'

/**
 * The security settings of the one application window, kept apart from the
 * Electron bootstrap so a test can assert each of them without launching Electron.
 */

/**
 * Content Security Policy of the renderer, sent as a response header by the
 * session and repeated in index.html's meta tag. Everything comes from the app
 * itself: no remote scripts, styles, fonts, frames or connections. `data:`
 * images are the dataset thumbnails the engine sends as PNG data URLs.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "frame-ancestors 'none'"
].join('; ')

/**
 * The CSP while developing with the renderer dev server only (`npm run dev`): Vite injects
 * styles as <style> elements and reloads over a WebSocket. Never used by a build.
 */
export const DEV_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
  "style-src 'self'",
  "style-src 'self' 'unsafe-inline'"
).replace("connect-src 'self'", "connect-src 'self' ws://localhost:* ws://127.0.0.1:*")

/**
 * Options of the application window.
 * @param preloadPath absolute path of the built preload script (out/preload/index.cjs)
 */
export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1360,
    height: 860,
    minWidth: 1024,
    minHeight: 680,
    show: false,
    title: 'FissionFusion Workstation',
    backgroundColor: '#f6f7f9',
    autoHideMenuBar: true,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false
    }
  }
}

/**
 * Whether the window may navigate to `url`: only to the page it was loaded
 * with (a reload), never anywhere else, local or remote.
 * @param url the navigation target
 * @param appUrl the URL the window loaded (file:// index.html, or the dev server)
 */
export function isAllowedNavigation(url: string, appUrl: string): boolean {
  return url === appUrl
}

/**
 * Response headers with the app's CSP set (replacing any the response carried).
 * @param headers the response headers Electron passes to onHeadersReceived
 * @param csp the policy (the built app's unless developing)
 */
export function withCsp(
  headers: Record<string, string[]> | undefined,
  csp: string = CONTENT_SECURITY_POLICY
): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== 'content-security-policy') out[name] = value
  }
  out['Content-Security-Policy'] = [csp]
  return out
}
