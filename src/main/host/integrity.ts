/**
 * Integrity of weights files: their SHA-256 is recorded in the store when a member or soup is
 * recorded as written, and checked before a job uses them. A file that no longer matches (a
 * flipped byte, a truncated copy, an unparsable model.json) is marked damaged with the file
 * named, its member or soup is set to failed, and the job leaves it out with a warning.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { MemberRecord } from '../../shared/records'
import { sha256File } from '../engine/io/atomic'
import type { Store } from '../store'
import type { Workspace } from '../workspace'

/** The folder holding the checkpoint (an interrupted swap leaves `<dir>.old`, see checkpoint.ts). */
function holder(abs: string): string {
  return existsSync(join(abs, 'model.json')) || !existsSync(join(`${abs}.old`, 'model.json')) ? abs : `${abs}.old`
}

/** Records the SHA-256 of a checkpoint's weights.bin (workspace-relative folder) as just written. */
export function recordCheckpoint(store: Store, workspace: Workspace, relDir: string): void {
  const abs = holder(workspace.resolve(relDir))
  const file = join(abs, 'weights.bin')
  let sha: string | undefined
  try {
    sha = (JSON.parse(readFileSync(join(abs, 'model.json'), 'utf8')) as { sha256?: { weights?: string } }).sha256
      ?.weights
  } catch {
    // hashed from the file below
  }
  sha ??= createHash('sha256').update(readFileSync(file)).digest('hex')
  store.files.record(`${relDir}/weights.bin`, sha, statSync(file).size)
}

/**
 * Checks a checkpoint (workspace-relative folder) against the hash recorded in the store (or, for
 * one written before hashes were recorded, in its model.json). Answers why it is damaged (and
 * marks it so), or undefined when it is sound.
 */
export async function checkCheckpoint(store: Store, workspace: Workspace, relDir: string): Promise<string | undefined> {
  const abs = holder(workspace.resolve(relDir))
  const rel = `${relDir}/weights.bin`
  const recorded = store.files.get(rel)
  let reason: string | undefined
  let fromMeta: string | undefined
  try {
    fromMeta = (JSON.parse(readFileSync(join(abs, 'model.json'), 'utf8')) as { sha256?: { weights?: string } }).sha256
      ?.weights
  } catch (e) {
    reason = existsSync(join(abs, 'model.json'))
      ? `${relDir}/model.json is not valid JSON`
      : `${relDir}/model.json is missing`
    void e
  }
  if (!reason) {
    const expected = recorded?.sha256 ?? fromMeta
    if (!existsSync(join(abs, 'weights.bin'))) reason = `${rel} is missing`
    else if (expected && (await sha256File(join(abs, 'weights.bin'))) !== expected)
      reason = `${rel} does not match the SHA-256 recorded when it was written`
    else if (recorded && fromMeta && fromMeta !== recorded.sha256)
      reason = `${relDir}/model.json names other weights than the ones recorded when it was written`
  }
  if (reason && recorded) {
    try {
      store.files.markDamaged(rel, reason)
    } catch {
      // a read-only workspace: the reason is still answered, only not remembered
    }
  }
  return reason
}

/** A member left out because its weights are damaged. */
export interface DamagedMember {
  memberId: string
  name: string
  reason: string
}

/**
 * Checks every member's checkpoint; damaged ones are set to failed and returned apart, with a
 * warning through `warn`. The sound ones keep their order.
 */
export async function leaveOutDamaged(
  store: Store,
  workspace: Workspace,
  members: MemberRecord[],
  warn: (message: string) => void
): Promise<{ kept: MemberRecord[]; damaged: DamagedMember[] }> {
  const kept: MemberRecord[] = []
  const damaged: DamagedMember[] = []
  for (const m of members) {
    const reason = m.checkpointPath ? await checkCheckpoint(store, workspace, m.checkpointPath) : undefined
    if (!reason) {
      kept.push(m)
      continue
    }
    store.runs.updateMember(m.id, { status: 'failed' })
    damaged.push({ memberId: m.id, name: m.name, reason })
    warn(`member ${m.id} (${m.name}) is damaged and left out: ${reason}`)
  }
  return { kept, damaged }
}
