/**
 * `fuse --run ID`: the Fusion table of a run (runs the 'fuse' job: progress, Ctrl-C cancel,
 * resume with `job resume`). Prints method, validation score, test metrics with 95% CIs, OOD
 * metrics, corruption averages, epochs and time; --json prints the job's full result.
 */
import type { JobRecord } from '../../shared/records'
import { DEFAULT_FUSE_METHOD_IDS, FUSION_METHOD_IDS, METRIC_IDS } from '../../shared/vocabulary'
import { orList, type CliCommand } from './types'

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

/** `{ "<dataset id>": { "<its class>": "<run class>" } }` given as JSON text. */
function classMapOption(v: string): unknown {
  try {
    return JSON.parse(v)
  } catch (e) {
    throw new Error(`--class-map is not valid JSON: ${(e as Error).message}`)
  }
}

interface Row {
  method: string
  val: number | null
  test: Record<string, { value: number | null; ci: [number | null, number | null] }>
  vsBest: { difference: number; p: number } | null
  ood: Record<string, { metrics: Record<string, { value: number | null }> }>
  corruptions: Record<string, Record<string, number | null>[]> | null
  epochs: number
  seconds: number
  accounting: { valEvaluations: number; soupSeconds: number }
}

const f3 = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(3)

export const fuseCommand: CliCommand = {
  command: 'fuse',
  description: `Fuse a run's members (${DEFAULT_FUSE_METHOD_IDS.join(', ')}, ...) and report test metrics with 95% CIs, OOD and corruptions.`,
  options: [
    { flags: '--run <id>', description: 'run whose members to fuse (required)' },
    {
      flags: '--methods <list>',
      description: `comma list of ${FUSION_METHOD_IDS.join(',')},hier:OUTER/INNER`,
      parse: list
    },
    {
      flags: '--group-by <key>',
      description: 'hierarchical groups: lr (default), lineage, seed, aug or any recorded hyperparameter'
    },
    { flags: '--metric <id>', description: `selection metric: ${orList(METRIC_IDS)} (default: the run's)` },
    { flags: '--ties <rule>', description: 'greedy ties: reject (default, strict improvement) or accept' },
    { flags: '--ood <ids>', description: 'comma list of dataset ids to evaluate out of distribution', parse: list },
    {
      flags: '--class-map <json>',
      description: 'explicit OOD class maps: {"<dataset id>": {"<its class>": "<run class>"}}',
      parse: classMapOption
    },
    {
      flags: '--corruptions',
      description: 'also evaluate on the corruption suite (6 corruptions × 3 severities) of the test split'
    },
    {
      flags: '--corruption-images <n>',
      description: 'run the corruption suite on at most n test images (a seeded subset; default all)',
      parse: Number
    },
    { flags: '--resamples <n>', description: 'bootstrap resamples of the CIs (default 1000)', parse: Number },
    {
      flags: '--bn-batches <n>',
      description: 're-estimate BatchNorm statistics of each soup on n training batches (default 0: off)',
      parse: Number
    },
    { flags: '--seed <n>', description: 'seed of the bootstrap and corruption noise (default 0)', parse: Number },
    {
      flags: '--corruption-ensemble <yes|no>',
      description: 'also run the ensemble (every member) on the corruption suite (default yes)',
      parse: (v: string) => {
        if (v !== 'yes' && v !== 'no') throw new Error(`--corruption-ensemble: expected yes or no, got '${v}'`)
        return v === 'yes'
      }
    },
    {
      flags: '--threads <n>',
      description: 'threads of the native kernels while fusing (default 1; all cores when nothing else runs)',
      parse: Number
    }
  ],
  async run(ctx, _args, o) {
    if (!o.run) throw new Error('fuse: --run <id> is required')
    if (!ctx.app().store.runs.get(String(o.run))) throw new Error(`run ${String(o.run)} not found`)
    const params = Object.fromEntries(
      Object.entries({
        runId: o.run,
        methods: o.methods,
        groupBy: o.groupBy,
        metric: o.metric,
        ties: o.ties,
        ood: o.ood,
        classMap: o.classMap,
        corruptions: o.corruptions === true ? true : undefined,
        resamples: o.resamples,
        bnBatches: o.bnBatches,
        seed: o.seed,
        corruptionImages: o.corruptionImages,
        corruptionEnsemble: o.corruptionEnsemble,
        threads: o.threads
      }).filter(([, v]) => v !== undefined)
    )
    const job: JobRecord = await ctx.runJob('fuse', params)
    if (job.status !== 'completed') {
      process.exitCode = 1
      throw new Error(
        `fuse job ${job.id} ${job.status}${job.error ? `: ${job.error}` : ''}${job.resumable ? ` (resume: fissionfusion job resume ${job.id})` : ''}`
      )
    }
    return job.result
  },
  print(result, out) {
    const r = result as {
      runId: string
      metric: string
      groupBy: string
      backend: string
      seconds: Record<string, number> & { total: number }
      methods: Row[]
      notes: string[]
    }
    out(
      `run ${r.runId}: selection metric ${r.metric} (validation), groups by ${r.groupBy}, backend ${r.backend}, ${r.seconds.total.toFixed(0)} s (${Object.entries(
        r.seconds
      )
        .filter(([k]) => k !== 'total')
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')})`
    )
    const metrics = Object.keys(r.methods[0]?.test ?? {})
    const oodIds = Object.keys(r.methods[0]?.ood ?? {})
    const head = [
      'method',
      `val ${r.metric}`,
      ...metrics.map((m) => `test ${m} [95% CI]`),
      `Δ${r.metric} vs best (p)`,
      ...oodIds.map((id) => `OOD ${id} ${r.metric}`),
      'corrupt.',
      'epochs',
      'time s',
      'val evals'
    ]
    const rows = r.methods.map((m) => [
      m.method,
      f3(m.val),
      ...metrics.map((k) => `${f3(m.test[k].value)} [${f3(m.test[k].ci[0])}, ${f3(m.test[k].ci[1])}]`),
      m.vsBest ? `${m.vsBest.difference >= 0 ? '+' : ''}${f3(m.vsBest.difference)} (${m.vsBest.p.toFixed(3)})` : '',
      ...oodIds.map((id) => f3(m.ood[id].metrics[r.metric]?.value)),
      m.corruptions
        ? f3(
            mean(
              Object.values(m.corruptions)
                .flat()
                .map((s) => s[r.metric])
            )
          )
        : '',
      String(m.epochs),
      m.seconds.toFixed(0),
      String(m.accounting.valEvaluations)
    ])
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd()
    out(line(head))
    out(line(widths.map((w) => '-'.repeat(w))))
    rows.forEach((row) => out(line(row)))
    const suite = (r as { corruptionSuite?: { images: number; of: number; seed: number; ensemble: boolean } | null })
      .corruptionSuite
    if (r.methods.some((m) => m.corruptions)) {
      out(
        `corrupt. = mean ${r.metric} over 6 corruptions × 3 severities of the test split${suite ? ` on ${suite.images === suite.of ? 'all' : suite.images} of its ${suite.of} images${suite.images < suite.of ? ` (a subset drawn with seed ${suite.seed})` : ''}${suite.ensemble ? '' : '; the ensemble is not run on it'}` : ''}`
      )
    }
    for (const n of r.notes) out(`note: ${n}`)
  }
}

function mean(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && !Number.isNaN(x))
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null
}
