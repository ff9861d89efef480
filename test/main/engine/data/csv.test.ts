import { describe, expect, it } from 'vitest'
import { detectDelimiter, parseCsv } from '../../../../src/main/engine/data/csv'

describe('parseCsv', () => {
  it('handles a BOM, CRLF, quotes with delimiters, doubled quotes and embedded newlines', () => {
    const t = parseCsv('\uFEFFa,b,c\r\n1,"x, y",3\r\n2,"say ""hi""","multi\nline"\r\n\r\n')
    expect(t.header).toEqual(['a', 'b', 'c'])
    expect(t.rows).toEqual([
      ['1', 'x, y', '3'],
      ['2', 'say "hi"', 'multi\nline']
    ])
  })
  it('detects semicolons and tabs, and pads short rows', () => {
    expect(detectDelimiter('patientId;x;y\n')).toBe(';')
    expect(detectDelimiter('a\tb\tc')).toBe('\t')
    const t = parseCsv('p;x;Target\r\nid1;;0\r\nid2;5')
    expect(t.delimiter).toBe(';')
    expect(t.rows).toEqual([
      ['id1', '', '0'],
      ['id2', '5', '']
    ])
  })
  it('keeps an empty first header (pandas index column)', () => {
    expect(parseCsv(',patientId,class\n3,abc,Normal\n').header).toEqual(['', 'patientId', 'class'])
  })
})
