/**
 * `npx fissionfusion`: the headless command line over the same store, jobs and engine as
 * the app. Commands are configs listed in src/main/commands/index.ts; this file is the core:
 * global options, one JSON document on stdout with --json (everything else on stderr),
 * errors as one clear line with a non-zero exit (stack only with --verbose), and closing the
 * workspace (stopping its engine processes) after the command.
 */
import { Command, InvalidArgumentError } from 'commander'
import type { JobRecord } from '../shared/records'
import { cliCommands } from './commands'
import { progressPrinter } from './commands/progress'
import type { CliCommand, CliContext, GlobalOptions } from './commands/types'
import { APP_VERSION, openApp, type App } from './host/app'
import { chooseWorkspaceDir } from './workspace'
import { errorText } from '../shared/errors'

// stdout belongs to the command's result: libraries' console output (tfjs banners) goes to stderr.
for (const level of ['log', 'info', 'debug', 'warn'] as const) {
  console[level] = (...args: unknown[]) => console.error(...args)
}

/** Set by Ctrl-C during a job: the CLI then exits 130 (128 + SIGINT), as a shell expects, whatever the job did. */
let interrupted = false

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()))
}

/** Finds or creates the (sub)command for the words of `usage`, returns it with the argument specs. */
function commandFor(program: Command, usage: string): Command {
  const words = usage.split(/\s+/)
  const firstArg = words.findIndex((w) => w.startsWith('<') || w.startsWith('['))
  const path = firstArg < 0 ? words : words.slice(0, firstArg)
  const args = firstArg < 0 ? [] : words.slice(firstArg)
  let parent = program
  for (const word of path.slice(0, -1)) {
    parent = parent.commands.find((c) => c.name() === word) ?? parent.command(word).description(`${word} commands`)
  }
  const cmd = parent.command(path[path.length - 1])
  for (const a of args) cmd.argument(a)
  return cmd
}

function createContext(globals: GlobalOptions): CliContext & { closeApp(): Promise<void> } {
  let app: App | undefined
  const ctx: CliContext & { closeApp(): Promise<void> } = {
    globals,
    workspaceDir: () => chooseWorkspaceDir(globals.workspace),
    app() {
      app ??= openApp({
        workspaceDir: ctx.workspaceDir(),
        onEngineOutput: globals.verbose ? (_id, text) => process.stderr.write(text) : () => undefined
      })
      if (app.workspace.readOnly)
        process.stderr.write(
          `warning: ${app.workspace.readOnly}: it is open read-only (lists and reports work; jobs are refused)\n`
        )
      return app
    },
    out: (line) => {
      if (!globals.json) process.stdout.write(line + '\n')
    },
    log: (line) => process.stderr.write(line + '\n'),
    async runJob(kind, params, opts = {}): Promise<JobRecord> {
      const a = ctx.app()
      const printer = progressPrinter(process.stderr)
      let id: string | undefined
      const stop = a.jobs.subscribe((e) => {
        if (id === undefined || e.jobId === id) printer.onEvent(e)
      })
      let interrupts = 0
      const onInterrupt = (): void => {
        interrupts++
        interrupted = true
        if (!id) return
        if (interrupts === 1) {
          printer.end()
          ctx.log('cancelling (Ctrl-C again to stop at once)...')
          a.jobs.cancel(id)
        } else {
          void a.jobs.close()
        }
      }
      process.on('SIGINT', onInterrupt)
      try {
        const job = opts.resumeId ? a.jobs.resume(opts.resumeId) : a.jobs.start(kind, params)
        id = job.id
        return await a.jobs.wait(job.id)
      } finally {
        printer.end()
        stop()
        process.off('SIGINT', onInterrupt)
      }
    },
    async closeApp() {
      await app?.close()
      app = undefined
    }
  }
  return ctx
}

function addCommand(program: Command, spec: CliCommand): void {
  const cmd = commandFor(program, spec.command).description(spec.description)
  for (const o of spec.options ?? []) {
    const parse = o.parse
    if (parse) {
      cmd.option(
        o.flags,
        o.description,
        (v: string) => {
          try {
            return parse(v)
          } catch (e) {
            throw new InvalidArgumentError((e as Error).message)
          }
        },
        o.default
      )
    } else {
      cmd.option(o.flags, o.description, o.default as string | boolean | undefined)
    }
  }
  cmd.action(async (...actionArgs: unknown[]) => {
    const self = actionArgs[actionArgs.length - 1] as Command
    const globals = self.optsWithGlobals() as GlobalOptions & Record<string, unknown>
    const args = self.processedArgs as string[]
    const humanLines: string[] = []
    const ctx = createContext({
      workspace: globals.workspace,
      backend: globals.backend,
      json: globals.json === true,
      verbose: globals.verbose === true
    })
    try {
      const result = await spec.run(ctx, args, self.opts())
      if (result !== undefined) {
        if (ctx.globals.json) await writeStdout(JSON.stringify(result, null, 2) + '\n')
        else if (spec.print) spec.print(result, (l) => humanLines.push(l))
        else humanLines.push(JSON.stringify(result, null, 2))
      }
      if (humanLines.length > 0) await writeStdout(humanLines.join('\n') + '\n')
    } finally {
      await ctx.closeApp()
    }
  })
}

/** Builds the commander program with the global options and every registered command. */
export function buildProgram(commands: readonly CliCommand[] = cliCommands): Command {
  const program = new Command('fissionfusion')
    .description(
      'FissionFusion Workstation: Fission (many fine-tuned models, cheaply) and Fusion (model soups), offline.'
    )
    .version(APP_VERSION)
    .option(
      '-w, --workspace <dir>',
      'workspace folder (default: env FF_WORKSPACE, else the local app-data folder, e.g. ~/.local/share/FissionFusion)'
    )
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, wasm or cpu (default: env FF_BACKEND, else auto)')
    .option('--json', 'print exactly one JSON document on stdout (logs on stderr)')
    .option('--verbose', 'show stack traces and engine output')
    .showHelpAfterError()
    .hook('preAction', (_p, action) => {
      const backend = action.optsWithGlobals().backend as string | undefined
      // Engine processes inherit the environment: one setting for the CLI and its jobs.
      if (backend) process.env.FF_BACKEND = backend
    })
  for (const c of commands) addCommand(program, c)
  return program
}

/** Commander's error text without its `error: ` prefix (e.g. "option '--lrs <list>' argument 'abc' is invalid. …"). */
function commanderMessage(message: string): string {
  return message.replace(/^error:\s*/, '').split('\n')[0]
}

/** Runs the CLI with `argv` (process.argv form); resolves with the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram()
  // Every (sub)command throws instead of exiting, so usage errors reach the handler below.
  const override = (c: Command): void => {
    c.exitOverride()
    c.commands.forEach(override)
  }
  override(program)
  const verbose = argv.includes('--verbose')
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv)
    if (interrupted) return 130
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number }
    // Commander already printed its own message (usage errors, --help, --version) on stderr;
    // with --json a usage error is also the one JSON document on stdout.
    if (err.code?.startsWith('commander.')) {
      const code = err.exitCode ?? 1
      if (json && code !== 0)
        await writeStdout(
          JSON.stringify({ error: { code: 'invalid_argument', message: commanderMessage(err.message) } }) + '\n'
        )
      return code
    }
    const message = errorText(e).split('\n')[0]
    process.stderr.write(`error: ${message}\n`)
    if (verbose && err.stack) process.stderr.write(err.stack + '\n')
    if (json)
      await writeStdout(
        JSON.stringify({ error: { code: interrupted ? 'cancelled' : (err.code ?? 'error'), message } }) + '\n'
      )
    return interrupted ? 130 : 1
  }
}

const entry = process.argv[1] ?? ''
if (/fissionfusion(\.mjs)?$|[\\/]cli\.ts$/.test(entry)) {
  void main().then((code) => process.exit(code))
}
