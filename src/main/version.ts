/**
 * The app's version, from the nearest package.json named fissionfusion above this file
 * (sources or the built out/). A leaf module: anything may import it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findVersion(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const file = join(d, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'fissionfusion' && pkg.version) return pkg.version
    }
    if (dirname(d) === d) return 'unknown'
  }
}

/** The app's version (package.json). */
export const APP_VERSION: string = findVersion(dirname(fileURLToPath(import.meta.url)))
