/**
 * Imported pretrained networks in a workspace: each one a checkpoint folder
 * `<workspace>/pretrained/<id>/` (model.json + weights.bin, see ../checkpoint.ts) whose
 * `info.pretrained` ({@link PretrainedInfo}) records its name, origin file name, format and
 * SHA-256 (never a path), the preprocessing it expects and what the mapping did. Nothing is
 * written until the whole file has been read and mapped, and the folder appears atomically, so a
 * bad file leaves the workspace as it was.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { writeCheckpoint } from '../checkpoint'
import { listPretrainedSync } from './list'
import {
  checkpointOf,
  readPretrained,
  type PretrainedImport,
  type PretrainedInfo,
  type PretrainedOptions
} from './index'

/** Folder of imported networks inside a workspace. */
export const PRETRAINED_FOLDER = 'pretrained'

/** An imported network as listed. */
export interface PretrainedEntry extends PretrainedInfo {
  id: string
  arch: string
  numClasses: number
}

/** The checkpoint folder of an imported network (it may not exist). */
export function pretrainedDir(workspaceDir: string, id: string): string {
  if (!/^pt-[0-9a-f]{10}$/.test(id)) throw new Error(`"${id}" is not an imported-network id (pt-…)`)
  return join(workspaceDir, PRETRAINED_FOLDER, id)
}

/** True when `id` names an imported network of the workspace. */
export function isPretrained(workspaceDir: string, id: string): boolean {
  return /^pt-[0-9a-f]{10}$/.test(id) && existsSync(join(pretrainedDir(workspaceDir, id), 'model.json'))
}

/** What an import did. */
export interface ImportedNetwork {
  entry: PretrainedEntry
  report: PretrainedImport['report']
}

/** Reads, maps and stores a weights file; the id depends on the file's content and the options (re-importing replaces). */
export async function importPretrained(
  workspaceDir: string,
  path: string,
  o: PretrainedOptions & { name?: string }
): Promise<ImportedNetwork> {
  const imp = await readPretrained(path, o)
  const id = `pt-${createHash('sha256')
    .update(JSON.stringify([imp.origin.sha256, imp.arch, imp.preprocessing]))
    .digest('hex')
    .slice(0, 10)}`
  const name = o.name ?? imp.origin.file.replace(/\.(onnx|safetensors)$/i, '')
  const input = checkpointOf(imp, name)
  await writeCheckpoint(pretrainedDir(workspaceDir, id), input)
  const info = input.meta.info!.pretrained as PretrainedInfo
  return { entry: { id, arch: imp.arch, numClasses: imp.build.numClasses, ...info }, report: imp.report }
}

/** Imported networks of the workspace, newest first. Unreadable folders are left out. */
export async function listPretrained(workspaceDir: string): Promise<PretrainedEntry[]> {
  return listPretrainedSync(workspaceDir) as PretrainedEntry[]
}
