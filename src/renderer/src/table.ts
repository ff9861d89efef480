/** Sorting for the app's tables (pure). */

/** A cell value a table can sort by. */
export type Cell = string | number | null | undefined

/** Sort direction. */
export type Direction = 'asc' | 'desc'

/** Compares two cells: numbers numerically, text naturally; empty cells always last. */
export function compareCells(a: Cell, b: Cell, direction: Direction): number {
  const emptyA = a === null || a === undefined || (typeof a === 'number' && !Number.isFinite(a))
  const emptyB = b === null || b === undefined || (typeof b === 'number' && !Number.isFinite(b))
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1
  const order = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true })
  return direction === 'asc' ? order : -order
}

/** Rows sorted by `key(row)` (stable; the input is not changed). */
export function sortRows<T>(rows: readonly T[], key: (row: T) => Cell, direction: Direction): T[] {
  return rows
    .map((row, i) => ({ row, i, k: key(row) }))
    .sort((x, y) => compareCells(x.k, y.k, direction) || x.i - y.i)
    .map((x) => x.row)
}
