import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  CONTENT_SECURITY_POLICY,
  DEV_CONTENT_SECURITY_POLICY,
  isAllowedNavigation,
  windowOptions,
  withCsp
} from '../../src/main/window-options'

/** Parses a CSP string into directive → sources. */
function parseCsp(csp: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const part of csp.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/)
    if (name) out.set(name, sources)
  }
  return out
}

describe('application window security', () => {
  const prefs = windowOptions('/app/out/preload/index.cjs').webPreferences ?? {}

  it('isolates the renderer: context isolation, sandbox, no Node', () => {
    expect(prefs.contextIsolation).toBe(true)
    expect(prefs.sandbox).toBe(true)
    expect(prefs.nodeIntegration).toBe(false)
    expect(prefs.nodeIntegrationInWorker).toBe(false)
    expect(prefs.nodeIntegrationInSubFrames).toBe(false)
  })

  it('keeps web security on and refuses insecure or embedded content', () => {
    expect(prefs.webSecurity).toBe(true)
    expect(prefs.allowRunningInsecureContent).toBe(false)
    expect(prefs.webviewTag).toBe(false)
    expect(prefs.experimentalFeatures).toBe(false)
    expect(prefs.navigateOnDragDrop).toBe(false)
    expect(prefs.preload).toBe('/app/out/preload/index.cjs')
  })

  it('has a CSP that allows only the app itself', () => {
    const csp = parseCsp(CONTENT_SECURITY_POLICY)
    expect(csp.get('default-src')).toEqual(["'self'"])
    expect(csp.get('script-src')).toEqual(["'self'"])
    expect(csp.get('object-src')).toEqual(["'none'"])
    expect(csp.get('frame-ancestors')).toEqual(["'none'"])
    for (const [directive, sources] of csp) {
      for (const source of sources) {
        // No remote origin, no wildcard, no inline or eval code anywhere.
        expect(source, `${directive} ${source}`).not.toMatch(/^(https?:|\*|'unsafe-|ws:|wss:)/)
      }
    }
  })

  it('the dev-server policy relaxes only styles and the local reload socket', () => {
    const dev = parseCsp(DEV_CONTENT_SECURITY_POLICY)
    expect(dev.get('script-src')).toEqual(["'self'"])
    expect(dev.get('style-src')).toEqual(["'self'", "'unsafe-inline'"])
    expect(dev.get('connect-src')).toEqual(["'self'", 'ws://localhost:*', 'ws://127.0.0.1:*'])
  })

  it('sends the CSP as a header, replacing any other', () => {
    const headers = withCsp({ 'content-security-policy': ['default-src *'], 'x-other': ['1'] })
    expect(headers['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY])
    expect(headers['content-security-policy']).toBeUndefined()
    expect(headers['x-other']).toEqual(['1'])
  })

  it('repeats the CSP in the page meta tag', () => {
    const html = readFileSync(new URL('../../src/renderer/index.html', import.meta.url), 'utf8')
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)
    expect(meta?.[1]).toBeDefined()
    const inPage = parseCsp(meta?.[1] ?? '')
    expect(inPage.get('default-src')).toEqual(["'self'"])
    expect(inPage.get('script-src')).toEqual(["'self'"])
  })

  it('allows navigation only back to the app page', () => {
    const app = 'file:///app/out/renderer/index.html'
    expect(isAllowedNavigation(app, app)).toBe(true)
    expect(isAllowedNavigation('https://example.org/', app)).toBe(false)
    expect(isAllowedNavigation('file:///etc/passwd', app)).toBe(false)
  })
})
