import type { Api } from '../shared/api'

declare global {
  interface Window {
    /** The app's contract (src/shared/api.ts), exposed by the preload in Electron (absent in a plain browser: check `"api" in window`). */
    api: Api
  }
}

export {}
