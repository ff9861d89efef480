/**
 * Seeded stratified group split: every group (patient, lesion, multi-frame file)
 * lands wholly in one split, and within each class stratum the splits receive
 * images in proportion to the requested fractions.
 */
import { Rng } from './rng'
import type { SplitName } from './types'

/** Split fractions, each in [0, 1], summing to 1. */
export type SplitFractions = Record<SplitName, number>

/** The default 70 / 10 / 20 split. */
export const DEFAULT_SPLIT: SplitFractions = { train: 0.7, val: 0.1, test: 0.2 }

const ORDER: SplitName[] = ['train', 'val', 'test']

/** Parses "70/10/20" (percentages or fractions, any positive sum) into fractions. */
export function parseSplit(text: string): SplitFractions {
  const parts = text.split('/').map((s) => Number(s.trim()))
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0) || parts[0] <= 0)
    throw new Error(`split "${text}": expected three non-negative numbers like 70/10/20 with a non-zero train share`)
  const sum = parts[0] + parts[1] + parts[2]
  return { train: parts[0] / sum, val: parts[1] / sum, test: parts[2] / sum }
}

/** One unit to place: its stratum (class key) and group (same group, same split). */
export interface SplitUnit {
  stratum: string
  group: string
}

/**
 * Assigns a split to each unit. Groups are shuffled with `seed` inside their
 * stratum (a group's stratum is that of its first unit) and each goes to the split
 * furthest below its target share of that stratum.
 */
export function stratifiedGroupSplit(units: SplitUnit[], fractions: SplitFractions, seed: number): SplitName[] {
  const groups = new Map<string, { stratum: string; members: number[] }>()
  units.forEach((u, i) => {
    const g = groups.get(u.group)
    if (g) g.members.push(i)
    else groups.set(u.group, { stratum: u.stratum, members: [i] })
  })
  const strata = new Map<string, { members: number[] }[]>()
  for (const g of groups.values()) {
    const list = strata.get(g.stratum) ?? []
    list.push(g)
    strata.set(g.stratum, list)
  }
  const rng = new Rng(seed)
  const out: SplitName[] = new Array(units.length)
  for (const key of [...strata.keys()].sort()) {
    const list = strata.get(key)!
    rng.shuffle(list)
    const total = list.reduce((a, g) => a + g.members.length, 0)
    const got: Record<SplitName, number> = { train: 0, val: 0, test: 0 }
    for (const g of list) {
      let best: SplitName = 'train'
      let bestDeficit = -Infinity
      for (const s of ORDER) {
        const deficit = fractions[s] * total - got[s]
        if (fractions[s] > 0 && deficit > bestDeficit + 1e-9) {
          best = s
          bestDeficit = deficit
        }
      }
      got[best] += g.members.length
      for (const m of g.members) out[m] = best
    }
  }
  return out
}
