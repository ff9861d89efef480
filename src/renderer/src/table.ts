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
  const order =
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a).localeCompare(String(b), undefined, { numeric: true })
  return direction === 'asc' ? order : -order
}

/** Rows sorted by `key(row)` (stable; the input is not changed). */
export function sortRows<T>(rows: readonly T[], key: (row: T) => Cell, direction: Direction): T[] {
  return rows
    .map((row, i) => ({ row, i, k: key(row) }))
    .sort((x, y) => compareCells(x.k, y.k, direction) || x.i - y.i)
    .map((x) => x.row)
}

/** A column of a DataTable over rows of type T. */
export interface Column<T> {
  /** Unique among the table's columns; also its sort key and the name of its slot (`cell-KEY`). */
  key: string
  /** Header text. */
  label: string
  /** Right-aligned (numbers). */
  num?: boolean
  /** Clicking the header sorts by this column (the table emits `sort`). */
  sortable?: boolean
  /** A header cell (th) in each row, e.g. the row's name. */
  head?: boolean
  /** The cell's text, when neither `ci` nor a `cell-KEY` slot draws it. */
  text?: (row: T) => string | number
  /** The cell's value with its 95% confidence interval (drawn by CiCell). */
  ci?: (row: T) => { value?: number | null; lo?: number | null; hi?: number | null } | undefined
}

/** The arrow a sorted column's header ends with. */
export function sortArrow(key: string, sortKey: string | undefined, direction: Direction | undefined): string {
  return key === sortKey ? (direction === 'asc' ? ' ▲' : ' ▼') : ''
}
