/**
 * The one way the renderer reaches the main side: `window.api` in Electron (the preload),
 * or the loopback bridge's WebSocket in a browser (token from the page URL). The same build
 * runs in both.
 */
import type { App } from 'vue'
import { createClient } from '../../shared/api'
import type { Api } from '../../shared/api'
import { bridgeUrlFromPage, createBridgeTransport } from '../../shared/bridge-client'

let current: Api | undefined

/** Which transport the app is using. */
export type TransportKind = 'electron' | 'bridge'

/** The transport in use (set by connectApi). */
export let transportKind: TransportKind = 'electron'

/** Builds the API for this page: Electron's `window.api`, else the bridge named by the URL. */
export function connectApi(): Api {
  if ('api' in window && window.api) {
    transportKind = 'electron'
    return window.api
  }
  transportKind = 'bridge'
  return createClient(createBridgeTransport(bridgeUrlFromPage(location)))
}

/** Connects (once) and makes the API available to stores. */
export function provideApi(_app: App): void {
  current ??= connectApi()
}

/** Replaces the API (tests: an in-memory transport). */
export function setApi(api: Api, kind: TransportKind = 'electron'): void {
  current = api
  transportKind = kind
}

/** The API; throws if the app has not connected yet. */
export function api(): Api {
  if (!current) throw new Error('The app is not connected to its engine yet.')
  return current
}
