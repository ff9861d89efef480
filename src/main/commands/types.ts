/**
 * What a CLI command is (`CliCommand`, a config listed in ./index.ts) and what it gets
 * (`CliContext`). The core (src/main/cli.ts) handles global options, --json output, errors
 * and closing the workspace; a command only computes its result.
 */
import type { JobRecord } from '../../shared/records'
import type { App } from '../host/app'
import type { BackendInfo } from '../engine/compute'

/** Global options (valid before or after the command name). */
export interface GlobalOptions {
  /** Workspace folder (else env FF_WORKSPACE, else the OS user-data folder). */
  workspace?: string
  /** tfjs backend: auto, tensorflow, wasm or cpu (also passed to engine processes as FF_BACKEND). */
  backend?: string
  /** Print exactly one JSON document on stdout; logs go to stderr. */
  json: boolean
  /** Stack traces and engine output on errors. */
  verbose: boolean
}

/** One option of a command, in commander syntax. */
export interface CliOption {
  /** e.g. '--port <n>' or '--torch'. */
  flags: string
  description: string
  default?: string | boolean | number
  /** Converts the text given (e.g. to a number; throw an Error with a clear message on bad input). */
  parse?: (value: string) => unknown
}

/** What a command runs with. */
export interface CliContext {
  globals: GlobalOptions
  /** The workspace folder the options select (not opened). */
  workspaceDir(): string
  /** Opens the workspace on first use (created if missing or empty); closed by the core after the command. */
  app(): App
  /** Writes a line to stdout (human output only; ignored with --json). */
  out(line: string): void
  /** Writes a log line to stderr. */
  log(line: string): void
  /**
   * Starts a job (or resumes one, with `resumeId`), shows its progress (a bar on a TTY, plain
   * lines otherwise; Ctrl-C cancels it) and resolves with its final record.
   */
  runJob(kind: string, params: unknown, opts?: { resumeId?: string }): Promise<JobRecord>
}

/** One CLI command. */
export interface CliCommand {
  /** Commander usage: words then arguments, e.g. 'show <id>', 'bench train', 'job run <kind>'. */
  command: string
  /** One line for --help. */
  description: string
  options?: CliOption[]
  /**
   * Does the work. Its result is printed by the core: as one JSON document with --json, else
   * with `print` (or as indented JSON). Return undefined to print nothing (e.g. `serve`).
   */
  run(ctx: CliContext, args: string[], options: Record<string, unknown>): Promise<unknown>
  /** Human output of the result (lines through `out`). */
  print?(result: unknown, out: (line: string) => void): void
}

/** A non-negative integer option parser, naming the option in its error. */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${v}'`)
    return n
  }
}

/** A comma-separated list option parser; each item parsed by `parse`. */
export function listOf<T>(name: string, parse: (s: string) => T): (v: string) => T[] {
  return (v) => {
    const items = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    if (items.length === 0) throw new Error(`${name}: give a comma-separated list`)
    return items.map(parse)
  }
}

/** A positive number option parser, naming the option in its error. */
export function positive(name: string): (s: string) => number {
  return (s) => {
    const n = Number(s)
    if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name}: '${s}' is not a positive number`)
    return n
  }
}

/** An option parser accepting one of `allowed` (case-insensitive), naming the option and the choices in its error. */
export function oneOf(name: string, allowed: readonly string[]): (s: string) => string {
  return (s) => {
    const v = s.trim().toLowerCase()
    if (!allowed.includes(v)) throw new Error(`${name} must be ${orList(allowed)}, got '${s}'`)
    return v
  }
}

/** Formats rows as an aligned text table. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string[] {
  if (rows.length === 0) return ['(none)']
  const cells = rows.map((r) =>
    columns.map((c) =>
      r[c] === null || r[c] === undefined ? '' : typeof r[c] === 'object' ? JSON.stringify(r[c]) : String(r[c])
    )
  )
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)))
  const line = (vals: string[]): string =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)]
}

/** A memory size option parser: MiB, or a number with MiB / GiB / MB / GB (`3000`, `3000MiB`, `3.5GiB`); returns MiB. */
export function memorySize(name: string): (s: string) => number {
  return (s) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(mib|gib|mb|gb|m|g)?\s*$/i.exec(s)
    const mib = m ? Number(m[1]) * ((m[2] ?? 'm').toLowerCase().startsWith('g') ? 1024 : 1) : NaN
    if (!(mib >= 64))
      throw new Error(`${name}: '${s}' is not a memory size of at least 64 MiB (e.g. 3000, 3000MiB or 3.5GiB)`)
    return Math.floor(mib)
  }
}

/** An integer option `flags` (e.g. '--size <px>'), parsed by {@link intOption} under its own name: at least `min`. */
export function intFlag(flags: string, description: string, min = 0): CliOption {
  return { flags, description, parse: intOption(flags.split(' ')[0], min) }
}

/**
 * Starts the engine's backend in this process (the global `--backend`, else auto) and logs its warning: running on
 * something slower than the best backend is never silent.
 */
export async function startBackend(ctx: CliContext): Promise<BackendInfo> {
  const { initBackend } = await import('../engine/compute')
  const info = await initBackend({ backend: (ctx.globals.backend ?? 'auto') as 'auto' })
  if (info.warning) ctx.log(`warning: ${info.warning}`)
  return info
}

/** Items in words: 'a', 'a or b', 'a, b or c' (a help text's choices, written from the vocabulary's lists). */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}
