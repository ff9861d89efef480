/**
 * `demo [--quick]`: the whole method on the embedded default data, offline: the synthetic
 * chest dataset and its other-scanner twin are generated into the workspace, then the 'pipeline'
 * job runs (shared start, grid + FGG, every soup, OOD + corruptions, ONNX export). Running it
 * again resumes after a crash or Ctrl-C, or reprints the finished result.
 */
import { DEFAULT_PRESET, QUICK_PRESET } from '../engine/demo/presets'
import { planOptions, planParams, printPipeline, runPipeline } from './pipeline'
import type { CliCommand } from './types'

export const demoCommand: CliCommand = {
  command: 'demo',
  description:
    'Run the whole method on the embedded synthetic radiographs (+ an OOD scanner twin); --quick for a smaller, faster version.',
  options: [
    {
      flags: '--quick',
      description: 'smaller data and plans (about 2–3 minutes on 2 CPU cores, vs about 3 for the default)'
    },
    ...planOptions
  ],
  async run(ctx, _args, o) {
    const { counts, oodCounts, size, seed, ...scale } = o.quick === true ? QUICK_PRESET : DEFAULT_PRESET
    // the demo's images are small: the whole corruption suite, the ensemble included, unless told otherwise
    return runPipeline(ctx, {
      data: { kind: 'synthetic', counts, oodCounts, size, seed },
      ...scale,
      corruptionImages: 0,
      corruptionEnsemble: true,
      ...planParams(o)
    })
  },
  print: printPipeline
}
