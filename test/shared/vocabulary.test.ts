import { describe, expect, it } from 'vitest'
import {
  ARCHITECTURE_IDS,
  ARCHITECTURE_INFO,
  AUGMENT_PRESET_IDS,
  AUGMENT_PRESET_INFO,
  DEFAULT_FUSE_METHOD_IDS,
  FUSION_METHOD_IDS,
  FUSION_METHOD_INFO,
  HIER_LEVEL_IDS,
  HIER_LEVEL_INFO,
  isMethodId,
  MERGE_OP_IDS,
  METRIC_IDS,
  METRIC_INFO,
  PAPER_HIERARCHIES
} from '../../src/shared/vocabulary'
import { METRICS } from '../../src/main/engine/evaluate'
import { FUSION_METHODS } from '../../src/main/engine/fusion/methods'
import { EXTRA_METHOD_PATTERN, fusionMethod, LEVEL_METHODS, levelsOf } from '../../src/main/engine/fusion/hier'
import { MERGE_OPS } from '../../src/main/engine/fusion/merges'
import { ARCHITECTURES } from '../../src/main/engine/models'
import { AUGMENT_PRESETS } from '../../src/main/engine/data/augment'

describe('the shared vocabulary matches the engine registries', () => {
  it('metric ids and table labels are the evaluate registry', () => {
    expect(METRICS.map((m) => m.id)).toEqual([...METRIC_IDS])
    expect(METRICS.map((m) => m.label)).toEqual(METRIC_INFO.map((m) => m.label))
    expect(METRIC_INFO.map((m) => m.id)).toEqual([...METRIC_IDS])
  })

  it('fusion method ids are the fusion registry plus the merge methods, and the hier grammar agrees', () => {
    expect(FUSION_METHODS.map((m) => m.id)).toEqual(
      FUSION_METHOD_IDS.filter((id) => !(MERGE_OP_IDS as readonly string[]).includes(id))
    )
    expect([...MERGE_OPS]).toEqual([...MERGE_OP_IDS])
    expect([...LEVEL_METHODS]).toEqual([...HIER_LEVEL_IDS])
    for (const id of FUSION_METHOD_IDS) expect(fusionMethod(id).id).toBe(id)
    expect(FUSION_METHOD_INFO.map((m) => m.id)).toEqual([...FUSION_METHOD_IDS])
    expect(HIER_LEVEL_INFO.map((m) => m.id)).toEqual([...HIER_LEVEL_IDS])
    for (const outer of HIER_LEVEL_IDS)
      for (const inner of HIER_LEVEL_IDS) {
        const id = `hier:${outer}/${inner}`
        expect(isMethodId(id)).toBe(true)
        expect(EXTRA_METHOD_PATTERN.test(id)).toBe(true)
      }
    for (const bad of ['hier:best/uniform', 'hier:uniform', 'soup', 'hier:greedy/ensemble', '']) {
      expect(isMethodId(bad)).toBe(false)
      expect(() => fusionMethod(bad)).toThrow()
    }
    for (const [id, levels] of Object.entries(PAPER_HIERARCHIES)) expect(levelsOf(id)).toEqual([...levels])
    for (const id of DEFAULT_FUSE_METHOD_IDS) expect(isMethodId(id)).toBe(true)
  })

  it('augmentation presets and architecture ids are the engine registries', () => {
    expect([...AUGMENT_PRESETS]).toEqual([...AUGMENT_PRESET_IDS])
    expect(AUGMENT_PRESET_INFO.map((a) => a.id)).toEqual([...AUGMENT_PRESET_IDS])
    expect(Object.keys(ARCHITECTURES)).toEqual([...ARCHITECTURE_IDS])
    expect(ARCHITECTURE_INFO.map((a) => a.id)).toEqual([...ARCHITECTURE_IDS])
  })
})
