/**
 * The page the window shows when the app cannot start (the workspace or its database cannot be
 * opened, the interface fails to load): what failed and what to do, instead of a crash, an
 * error box and a quit, or a blank window. A self-contained HTML document as a data: URL.
 */

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** The page as a `data:` URL for `BrowserWindow.loadURL`. */
export function startupFailureUrl(what: string, detail: string, actions: readonly string[]): string {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>FissionFusion Workstation cannot start</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:40px auto;max-width:720px;color:#17202c}
h1{font-size:20px}.detail{background:#fff4e0;border:1px solid #e3b341;border-radius:6px;padding:10px 14px;white-space:pre-wrap}
li{margin:6px 0}</style></head><body>
<h1>FissionFusion Workstation cannot start: ${escape(what)}</h1>
<p class="detail" data-test="startup-failure">${escape(detail)}</p>
<h2>What to do</h2><ol>${actions.map((a) => `<li>${escape(a)}</li>`).join('')}</ol>
<p>Nothing in the workspace was changed. Close this window when done; start the app again to retry.</p>
</body></html>`
  return `data:text/html;charset=utf-8,${encodeURIComponent(html)}`
}

/** What to do when the workspace cannot be opened, by the kind of error. */
export function workspaceActions(error: unknown): string[] {
  const text = error instanceof Error ? error.message : String(error)
  const actions: string[] = []
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(text)) {
    actions.push(
      'The database library was built for another runtime: reinstall the app, or from the repository run `npm run build:electron-natives`.'
    )
  }
  if (/newer|schema_too_new/i.test(text))
    actions.push(
      'This workspace was written by a newer version of the app: install that version, or open another workspace.'
    )
  if (/EACCES|EPERM|EROFS|read-only/i.test(text))
    actions.push('The folder cannot be written: fix its permissions or choose another workspace.')
  actions.push('Choose another workspace folder: set FF_WORKSPACE before starting the app.')
  actions.push('Run `fissionfusion doctor` in a terminal to see what the engine finds on this machine.')
  return actions
}
