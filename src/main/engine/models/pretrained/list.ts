/**
 * The imported networks of a workspace, read from their model.json files only (no tfjs), so the
 * main process can list them for the interface (the contract's `PretrainedNetwork`: the origin
 * file's name and SHA-256, never a path).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { PretrainedNetwork } from '../../../../shared/api'

/** Imported networks under `<workspace>/pretrained/`, newest first; unreadable folders are left out. */
export function listPretrainedSync(workspaceDir: string): PretrainedNetwork[] {
  const root = join(workspaceDir, 'pretrained')
  if (!existsSync(root)) return []
  const out: PretrainedNetwork[] = []
  for (const id of readdirSync(root)) {
    if (!/^pt-[0-9a-f]{10}$/.test(id)) continue
    try {
      const meta = JSON.parse(readFileSync(join(root, id, 'model.json'), 'utf8')) as {
        arch: string
        classes: string[]
        info?: { pretrained?: Omit<PretrainedNetwork, 'id' | 'arch' | 'numClasses'> }
      }
      const info = meta.info?.pretrained
      if (info) out.push({ id, arch: meta.arch, numClasses: meta.classes.length, ...info })
    } catch {
      // a folder being written or damaged: not listed
    }
  }
  return out.sort((a, b) => b.importedAt.localeCompare(a.importedAt))
}
