import { describe, expect, it } from 'vitest'
import { cardFromMetadata, cardToMarkdown, cardToMetadata } from '../../../../src/main/engine/export/card'
import { buildCard } from '../../../../src/main/engine/export/export'
import { RESEARCH_USE_STATEMENT } from '../../../../src/shared/notices'
import { sampleCard } from './helpers'

describe('model card: research-use statement', () => {
  it('every card the exporter builds states research use only, not a medical device', () => {
    const card = buildCard(
      { arch: 'smallcnn', archOptions: {}, inputShape: [28, 28, 3], classes: ['a', 'b'], task: 'single' },
      {
        appVersion: '0.2.0',
        modelName: 'GoG soup',
        datasetName: 'Retina',
        method: { kind: 'GoG', ingredients: [] },
        metrics: []
      },
      'a'.repeat(64),
      new Date('2026-11-30T00:00:00Z')
    )
    expect(card.intendedUse).toBe(RESEARCH_USE_STATEMENT)
    expect(RESEARCH_USE_STATEMENT).toMatch(/not a medical device/)
    expect(cardToMetadata(card).intendedUse).toBe(RESEARCH_USE_STATEMENT)
    expect(cardToMarkdown(card)).toContain(RESEARCH_USE_STATEMENT)
  })

  it('reads a card written before the field existed, with the statement filled in', () => {
    const meta = cardToMetadata(sampleCard())
    delete meta.intendedUse
    expect(cardFromMetadata(meta).intendedUse).toBe(RESEARCH_USE_STATEMENT)
  })
})
