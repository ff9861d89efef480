/** Builds the soup hierarchy tree the Fusion view draws (pure). */
import type { Json, SoupIngredientRecord, SoupRecord } from '../../shared/api'
import type { TreeNode } from './chart-options'
import { HIER_LEVEL_IDS, PAPER_HIERARCHIES } from '../../shared/vocabulary'

/** A soup with its ingredients, child soups resolved (what the fusion store loads). */
export interface SoupTreeInput {
  soup: SoupRecord
  ingredients: SoupIngredientRecord[]
  /** Child soups by id (hierarchical soups: the group soups). */
  children: Record<string, SoupTreeInput>
}

function obj(v: Json | undefined): Record<string, Json> | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : null
}

/**
 * The tree stored by the fusion engine in `soup.config.tree`
 * ({ level, id, val, kept, weight, children }), or null when absent or malformed.
 * @param names member id → display name
 */
export function treeFromConfig(config: Json, names: Map<string, string>): TreeNode | null {
  const node = obj(obj(config)?.tree)
  return node ? convert(node, names, typeof node.id === 'string' ? levelMethods(node.id) : [null, null]) : null
}

/** The paper's hierarchies by their short names: [global level, group level]. */
const HIERARCHIES: Readonly<Record<string, readonly [string, string]>> = PAPER_HIERARCHIES
/** Methods whose single level merges all members. */
const FLAT: readonly string[] = HIER_LEVEL_IDS

/** The method of each level of a method id, [global, group] (null when not one soup method). */
export function levelMethods(id: string): [string | null, string | null] {
  const hier = /^hier:([a-z]+)\/([a-z]+)$/.exec(id)
  if (hier) return [hier[1], hier[2]]
  if (HIERARCHIES[id]) return [...HIERARCHIES[id]]
  return FLAT.includes(id) ? [null, id] : [null, null]
}

function convert(
  node: Record<string, Json>,
  names: Map<string, string>,
  levels: [string | null, string | null]
): TreeNode | null {
  if (typeof node.id !== 'string') return null
  const val = typeof node.val === 'number' && Number.isFinite(node.val) ? node.val : null
  const children = Array.isArray(node.children)
    ? node.children.flatMap((c) => {
        const o = obj(c)
        const t = o && convert(o, names, levels)
        return t ? [t] : []
      })
    : []
  const level = node.level
  // each soup level shows the method that merged it (stored by the engine, else known from the id)
  const method =
    typeof node.method === 'string'
      ? node.method
      : level === 'global'
        ? levels[0]
        : level === 'group'
          ? levels[1]
          : null
  const detail = typeof node.detail === 'string' ? ` · ${node.detail}` : ''
  const soupName =
    level === 'global'
      ? `${node.id}${method && method !== node.id ? ` · ${method}` : ''}${detail}`
      : `${method ? `${method} · ` : ''}${node.id}${detail}`
  return {
    name: level === 'member' ? (names.get(node.id) ?? node.id) : soupName,
    score: val,
    kept: level === 'global' ? null : typeof node.kept === 'boolean' ? node.kept : null,
    children
  }
}

/**
 * The tree from soup records: the soup, its ingredients (child soups expanded, members as
 * leaves), each marked kept or not and with its step score.
 * @param names member id → display name
 * @param kept whether the parent kept this soup (null at the root)
 */
export function treeFromRecords(
  input: SoupTreeInput,
  names: Map<string, string>,
  kept: boolean | null = null
): TreeNode {
  const label = input.soup.groupKey ? `${input.soup.method} · ${input.soup.groupKey}` : input.soup.method
  return {
    name: label,
    score: input.soup.valScore,
    kept,
    children: [...input.ingredients]
      .sort((a, b) => a.position - b.position)
      .map((ing) => {
        const child = ing.childSoupId ? input.children[ing.childSoupId] : undefined
        if (child) return treeFromRecords(child, names, ing.kept)
        const id = ing.memberId ?? ing.childSoupId ?? '?'
        return { name: names.get(id) ?? id, score: ing.stepScore, kept: ing.kept, children: [] }
      })
  }
}
