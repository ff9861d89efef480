import { describe, expect, it } from 'vitest'
import { ARCHITECTURE_IDS, FUSION_METHOD_IDS, HIER_LEVEL_IDS, METRIC_IDS } from '../../src/shared/vocabulary'
import * as features from '../../src/renderer/src/features'

describe('the renderer offers exactly the shared vocabulary', () => {
  it('metrics, fusion methods, hierarchy levels and architectures come from src/shared/vocabulary.ts', () => {
    expect(features.METRICS.map((m) => m.id)).toEqual([...METRIC_IDS])
    expect(features.METRICS.find((m) => m.id === 'recall')?.label).toBe('Macro-recall (balanced accuracy)')
    expect(features.FUSION_METHODS.map((m) => m.id)).toEqual([...FUSION_METHOD_IDS])
    expect(features.HIER_LEVELS.map((m) => m.id)).toEqual([...HIER_LEVEL_IDS])
    expect(features.ARCHITECTURES.map((m) => m.id)).toEqual([...ARCHITECTURE_IDS])
  })
})
