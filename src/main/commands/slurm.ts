/**
 * Slurm: the options `fission` and `pipeline` take for `--executor slurm`, and `slurm-task`, the
 * command each array task runs (from the batch script; not for people). `slurm-task` never opens
 * the workspace or its database: it trains its units and writes their folders and its status file.
 */
import type { SlurmParams } from '../host/slurm'
import { intFlag, intOption, oneOf, type CliCommand, type CliOption } from './types'

/** Options of `--executor slurm` (shared by fission and pipeline). */
export const slurmCliOptions: CliOption[] = [
  {
    flags: '--executor <where>',
    description: 'local (default: engine processes on this machine) or slurm (one job array)',
    parse: oneOf('--executor', ['local', 'slurm'])
  },
  {
    flags: '--partition <name>',
    description: "slurm: partition (default: the workspace's slurm.json, else the cluster's)"
  },
  { flags: '--account <name>', description: 'slurm: account to charge' },
  { flags: '--time <limit>', description: 'slurm: time limit per array task, e.g. 2:00:00' },
  intFlag('--cpus-per-task <n>', 'slurm: CPUs per array task (default 1)', 1),
  { flags: '--mem <size>', description: 'slurm: memory per array task, e.g. 4G' },
  { flags: '--gres <spec>', description: 'slurm: generic resources per array task, e.g. gpu:1' },
  {
    flags: '--sbatch-args <args>',
    description: 'slurm: more sbatch arguments, space-separated (e.g. "--qos=long --exclude=node3")'
  },
  { flags: '--dry-run', description: 'slurm: print the batch script and the array size, submit nothing' }
]

/** The Slurm settings the options give (undefined fields: the workspace's slurm.json decides). */
export function slurmParamsOf(o: Record<string, unknown>): SlurmParams | undefined {
  const extra = typeof o.sbatchArgs === 'string' ? o.sbatchArgs.split(/\s+/).filter(Boolean) : undefined
  const p = Object.fromEntries(
    Object.entries({
      partition: o.partition,
      account: o.account,
      time: o.time,
      cpusPerTask: o.cpusPerTask,
      mem: o.mem,
      gres: o.gres,
      extra
    }).filter(([, v]) => v !== undefined)
  ) as SlurmParams
  if (o.executor !== 'slurm') {
    if (Object.keys(p).length > 0) throw new Error(`Slurm options (${Object.keys(p).join(', ')}) need --executor slurm`)
    if (o.dryRun) throw new Error('--dry-run needs --executor slurm')
    return undefined
  }
  return p
}

export const slurmTaskCommand: CliCommand = {
  command: 'slurm-task <setup> <index>',
  description: "(run by Slurm) train array task <index> of a run's slurm/setup.json; writes only its training folders.",
  async run(_ctx, [setup, index]) {
    const { runSlurmTask } = await import('../engine/fission/slurm')
    const status = await runSlurmTask(setup, intOption('<index>')(index))
    if (status.state !== 'done') {
      process.exitCode = status.state === 'cancelled' ? 143 : 1
      throw new Error(`array task ${status.index}: ${status.state}${status.error ? `: ${status.error}` : ''}`)
    }
    return status
  }
}
