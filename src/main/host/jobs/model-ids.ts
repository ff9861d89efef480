/** Resolving model ids (members or soups) for the interpolate and plane jobs. */
import type { Store } from '../../store'
import type { Workspace } from '../../workspace'

/** A member or soup with weights, its run and the run's dataset. */
export interface ResolvedModel {
  id: string
  kind: 'member' | 'soup'
  runId: string
  datasetId: string
  /** Absolute checkpoint folder. */
  dir: string
  /** Soup method, or null for a member. */
  method: string | null
}

/** Resolves a model id; throws naming the id when it is unknown or has no weights yet. */
export function resolveModel(store: Store, workspace: Workspace, id: string, field: string): ResolvedModel {
  const member = store.runs.getMember(id)
  const soup = member ? undefined : store.soups.get(id)
  const rec = member ?? soup
  if (!rec) throw new Error(`${field}: no member or soup has the id ${id}`)
  if (!rec.checkpointPath) throw new Error(`${field}: model ${id} has no weights yet (not trained)`)
  const run = store.runs.get(rec.runId)
  if (!run) throw new Error(`${field}: the run ${rec.runId} of model ${id} is not found`)
  return {
    id,
    kind: member ? 'member' : 'soup',
    runId: run.id,
    datasetId: run.datasetId,
    dir: workspace.resolve(rec.checkpointPath),
    method: soup ? soup.method : null
  }
}
