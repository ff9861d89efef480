/** Display helpers: every number the interface shows goes through one of these. */

/** Seconds as "1 h 05 min", "4 min 10 s" or "12 s"; "—" when unknown. */
export function formatDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds)) return '—'
  const s = Math.max(0, Math.round(seconds))
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${s} s`
}

/** A metric value with `digits` decimals; "—" when unknown. */
export function formatNumber(value: number | undefined | null, digits = 3): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—'
  return value.toFixed(digits)
}

/** A learning rate or other small quantity in compact scientific notation (1e-3, 5e-5). */
export function formatLr(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—'
  if (value === 0) return '0'
  const [mantissa, exponent] = value.toExponential().split('e')
  const m = Number(mantissa)
  return `${Number.isInteger(m) ? m : m.toFixed(2)}e${Number(exponent)}`
}

/** A count with thousands separators. */
export function formatCount(value: number | undefined | null): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '—'
  return Math.round(value).toLocaleString('en-US')
}

/** A value with its 95% confidence interval: "0.912 [0.887, 0.934]". */
export function formatCi(
  value: number | undefined | null,
  low?: number | null,
  high?: number | null,
  digits = 3
): string {
  const v = formatNumber(value, digits)
  if (low === undefined || low === null || high === undefined || high === null) return v
  return `${v} [${formatNumber(low, digits)}, ${formatNumber(high, digits)}]`
}
