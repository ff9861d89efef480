/**
 * How an engine process starts its own children (training workers, the memory probe): from the
 * sources, the TypeScript file run through tsx (CLI, tests, `npm run dev`); from the bundle
 * (the desktop app, `out/main`), the entry electron-vite built for it beside `engine.js`
 * (electron.vite.config.ts `mainEntries`), run as it is.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** What `fork` needs: the script and the Node options to run it with. */
export interface ChildScript {
  file: string
  execArgv: string[]
}

/**
 * @param callerUrl `import.meta.url` of the module that forks
 * @param source the child's TypeScript file, relative to the caller's source file
 * @param built the name of its built entry in out/main (without `.js`)
 */
export function childScript(callerUrl: string, source: string, built: string): ChildScript {
  if (/\.ts$/.test(new URL(callerUrl).pathname)) {
    const tsx = pathToFileURL(createRequire(callerUrl).resolve('tsx')).href
    return { file: fileURLToPath(new URL(source, callerUrl)), execArgv: ['--import', tsx] }
  }
  // Bundled: chunks live in out/main or out/main/chunks; the entries beside engine.js.
  let dir = dirname(fileURLToPath(callerUrl))
  while (!existsSync(join(dir, 'engine.js')) && dirname(dir) !== dir) dir = dirname(dir)
  return { file: join(dir, `${built}.js`), execArgv: [] }
}
