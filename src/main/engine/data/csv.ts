/**
 * A small RFC 4180 CSV reader: detects the delimiter (comma, semicolon, tab),
 * strips a UTF-8 BOM, accepts CRLF / LF / CR line ends and quoted fields with
 * embedded delimiters, quotes ("") and newlines.
 */

/** A parsed table: header names and rows of string cells (same length as header, padded with ''). */
export interface CsvTable {
  header: string[]
  rows: string[][]
  /** The delimiter that was detected. */
  delimiter: string
}

const CANDIDATES = [',', ';', '\t', '|']

/** Picks the candidate delimiter occurring most often (outside quotes) in the first line. */
export function detectDelimiter(text: string): string {
  let end = text.search(/\r|\n/)
  if (end < 0) end = text.length
  const line = text.slice(0, end)
  let best = ','
  let bestCount = 0
  for (const d of CANDIDATES) {
    let count = 0
    let quoted = false
    for (const ch of line) {
      if (ch === '"') quoted = !quoted
      else if (ch === d && !quoted) count++
    }
    if (count > bestCount) {
      best = d
      bestCount = count
    }
  }
  return best
}

/** Parses CSV text into a header and rows; fully empty lines are dropped. */
export function parseCsv(input: string, delimiter?: string): CsvTable {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input
  const delim = delimiter ?? detectDelimiter(text)
  const records: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  let i = 0
  const endRow = (): void => {
    row.push(field)
    field = ''
    if (row.length > 1 || row[0] !== '') records.push(row)
    row = []
  }
  while (i < text.length) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i++
        } else quoted = false
      } else field += ch
    } else if (ch === '"' && field === '') quoted = true
    else if (ch === delim) {
      row.push(field)
      field = ''
    } else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      endRow()
    } else field += ch
    i++
  }
  if (field !== '' || row.length > 0) endRow()
  const header = (records.shift() ?? []).map((h) => h.trim())
  const rows = records.map((r) => {
    while (r.length < header.length) r.push('')
    return r
  })
  return { header, rows, delimiter: delim }
}
