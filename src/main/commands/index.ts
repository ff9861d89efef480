/**
 * The registry of CLI commands: every command of `npx fissionfusion`, listed once.
 *
 * To add one: write `src/main/commands/<name>.ts` exporting a `CliCommand` (see ./types.ts:
 * `command` usage such as 'import <folder>' or 'fusion run <runId>', `options`, `run(ctx,
 * args, options)` returning a JSON-able result, optional `print` for humans), then list it
 * below. Long work should go through `ctx.runJob(kind, params)` (a job kind in
 * src/main/host/jobs), which gives progress bars, Ctrl-C cancel and resume for free.
 */
import { benchTrainCommand } from './bench'
import { benchDataCommand } from './bench-data'
import { benchFissionCommand } from './bench-fission'
import { benchPretrainedCommand } from './bench-pretrained'
import { benchVitCommand } from './bench-vit'
import { benchPipelineCommand } from './bench-pipeline'
import { demoCommand } from './demo'
import { doctorCommand } from './doctor'
import { evaluateCommand } from './evaluate'
import { exportCommand } from './export'
import { fissionCommand } from './fission'
import { fuseCommand } from './fuse'
import { importCommand } from './import'
import { interpolateCommand } from './interpolate'
import { planeCommand } from './plane'
import { pipelineCommand } from './pipeline'
import { modelsCommand, modelsImportCommand } from './models'
import { predictCommand } from './predict'
import { jobCancelCommand, jobKindsCommand, jobResumeCommand, jobRunCommand } from './job'
import { datasetsCommand, jobsCommand, runsCommand } from './lists'
import { serveCommand } from './serve'
import { showCommand } from './show'
import { slurmTaskCommand } from './slurm'
import type { CliCommand } from './types'

export type { CliCommand, CliContext, CliOption, GlobalOptions } from './types'

/** All CLI commands, in --help order. */
export const cliCommands: readonly CliCommand[] = [
  demoCommand,
  pipelineCommand,
  doctorCommand,
  serveCommand,
  importCommand,
  datasetsCommand,
  runsCommand,
  jobsCommand,
  showCommand,
  jobRunCommand,
  jobResumeCommand,
  jobCancelCommand,
  jobKindsCommand,
  fissionCommand,
  fuseCommand,
  evaluateCommand,
  exportCommand,
  benchTrainCommand,
  benchDataCommand,
  benchFissionCommand,
  modelsCommand,
  modelsImportCommand,
  predictCommand,
  slurmTaskCommand,
  interpolateCommand,
  planeCommand,
  benchPretrainedCommand,
  benchVitCommand,
  benchPipelineCommand
]
