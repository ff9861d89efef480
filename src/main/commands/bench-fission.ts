/** `bench fission`: Fashion-MNIST pretraining → FGG on RetinaMNIST; wall times and test kappa (engine/fission/bench.ts). */
import { resolve } from 'node:path'
import { METRIC_IDS } from '../../shared/vocabulary'
import { intFlag, listOf, oneOf, positive, startBackend, table, type CliCommand } from './types'

export const benchFissionCommand: CliCommand = {
  command: 'bench fission',
  description:
    'Pretrain a small CNN on Fashion-MNIST, run an FGG plan on RetinaMNIST from it; report times and test kappa with a 95% CI.',
  options: [
    { flags: '--data <path>', description: 'medical dataset (default ../shared/data/medmnist/retinamnist.npz)' },
    {
      flags: '--pretrain-data <dir>',
      description: 'Fashion-MNIST idx folder (default /usr/share/datasets/fashion-mnist)'
    },
    { flags: '--work <dir>', description: 'working folder, kept (a rerun resumes); default a new temporary folder' },
    { flags: '--arch <name>', description: 'architecture (default smallcnn)' },
    {
      flags: '--pretrained <dir>',
      description:
        'start from this pretrained checkpoint folder instead of pretraining (e.g. WORK/pretrain/pretrain/best of an earlier run)'
    },
    intFlag('--pretrain-epochs <n>', 'pretraining epochs (default 4)', 1),
    intFlag('--pretrain-images <n>', 'pretrain on the first n training images only (default all 54,000)', 1),
    {
      flags: '--lrs <list>',
      description: "FGG base learning rates (default METHOD.md's 8)",
      parse: listOf('--lrs', positive('--lrs'))
    },
    intFlag('--epochs <n>', 'FGG base epochs (default 10)', 1),
    intFlag('--fgg-epochs <n>', 'FGG cyclic epochs (default 17)', 1),
    intFlag('--cycle <n>', 'cycle length, epochs (default 4)', 2),
    intFlag('--lp-epochs <n>', 'linear-probe epochs (default 10)'),
    intFlag('--batch-size <n>', 'images per batch (default 128)', 2),
    { flags: '--metric <id>', description: 'selection metric (default kappa)', parse: oneOf('--metric', METRIC_IDS) },
    intFlag('--workers <n>', 'engine processes at once (default one per core)', 1),
    {
      flags: '--fuse',
      description: 'then fuse the members (best, uniform, greedy, GoU, GoG, corruption suite) and time it'
    }
  ],
  async run(ctx, _args, o) {
    const { benchFission } = await import('../engine/fission/bench')
    const info = await startBackend(ctx)
    const repo = resolve(import.meta.dirname, '../../..')
    return benchFission({
      data: o.data ? resolve(String(o.data)) : resolve(repo, '../shared/data/medmnist/retinamnist.npz'),
      pretrainData: o.pretrainData ? resolve(String(o.pretrainData)) : undefined,
      workDir: o.work ? resolve(String(o.work)) : undefined,
      pretrained: o.pretrained ? resolve(String(o.pretrained)) : undefined,
      arch: o.arch as string | undefined,
      pretrainEpochs: o.pretrainEpochs as number | undefined,
      pretrainImages: o.pretrainImages as number | undefined,
      lrs: o.lrs as number[] | undefined,
      epochs: o.epochs as number | undefined,
      fggEpochs: o.fggEpochs as number | undefined,
      cycle: o.cycle as number | undefined,
      lpEpochs: o.lpEpochs as number | undefined,
      batchSize: o.batchSize as number | undefined,
      metric: o.metric as 'kappa' | undefined,
      workers: o.workers as number | undefined,
      fuse: o.fuse === true,
      backend: info.backend as 'wasm',
      onProgress: (m) => ctx.log(m)
    })
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/fission/bench').benchFission>>
    const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '—')
    out(
      `backend ${r.backend} × ${r.workers} processes; selection metric ${r.metric}; load average ${r.load.start.toFixed(1)} at the start, ${r.load.end.toFixed(1)} at the end`
    )
    out(
      r.pretrain.given
        ? 'pretraining: none (a pretrained checkpoint was given)'
        : `pretraining: ${r.pretrain.images} Fashion-MNIST images × ${r.pretrain.epochs} epochs in ${r.pretrain.seconds.toFixed(0)} s (val acc ${f3(r.pretrain.valAcc)})`
    )
    out(
      `FGG: ${r.fgg.lrs.length} rates, ${r.fgg.lpEpochs} probe + ${r.fgg.epochs} base + ${r.fgg.fggEpochs} cyclic epochs (cycle ${r.fgg.cycle}), ${r.fgg.members} members, ${r.fgg.status} in ${r.fgg.seconds.toFixed(0)} s (${(r.fgg.seconds / 60).toFixed(1)} min)`
    )
    const t = r.training
    const secs = (x: object) =>
      Object.entries(x as Record<string, number>)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')
    out(
      `per worker: ${t.perWorker.imagesPerSecond.toFixed(0)} images/s trained, ${(100 * t.perWorker.ratioToBare).toFixed(0)}% of the bare step's ${t.bare.imagesPerSecond.toFixed(0)} (batch ${t.bare.batch}, this run); per CPU second ${t.perWorker.imagesPerCpuSecond.toFixed(0)}, ${(100 * t.perWorker.cpuRatioToBare).toFixed(0)}% of the bare step's ${t.bare.imagesPerCpuSecond.toFixed(0)}`
    )
    out(`  wall seconds summed over workers: ${secs(t.perWorker.seconds)}`)
    out(`  CPU seconds summed over workers: ${secs(t.perWorker.cpuParts)} (of ${t.perWorker.cpuSeconds.toFixed(1)})`)
    if (t.lp) out(`linear probe: ${t.lp.images} images; seconds: ${secs(t.lp.seconds)}`)
    out(`worker time outside the trainer (process and backend start, loading): ${t.unitOverheadSeconds.toFixed(1)} s`)
    for (const line of table(
      r.members.map((m) => ({
        member: m.id,
        lr: m.lr,
        epoch: m.epoch,
        [`val ${r.metric}`]: f3(m.val),
        [`test ${r.metric}`]: f3(m.test),
        'test acc': f3(m.testAcc)
      })),
      ['member', 'lr', 'epoch', `val ${r.metric}`, `test ${r.metric}`, 'test acc']
    ))
      out(line)
    out(
      `best by validation: ${r.best.id}: test ${r.metric} ${f3(r.best.test)} [${f3(r.best.testCi.ci[0])}, ${f3(r.best.testCi.ci[1])}] (max over members ${f3(r.maxTest)})`
    )
    if (!r.fusion) return
    out(
      `fusion in ${r.fusion.seconds.toFixed(0)} s (${(r.fusion.seconds / 60).toFixed(1)} min; ${Object.entries(
        r.fusion.parts
      )
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}):`
    )
    const ci = (c: { value: number; ci: [number, number] }) => `${f3(c.value)} [${f3(c.ci[0])}, ${f3(c.ci[1])}]`
    for (const line of table(
      r.fusion.methods.map((m) => ({
        method: m.method,
        [`val ${r.metric}`]: f3(m.val),
        [`test ${r.metric}`]: ci(m.test[r.metric]),
        'test acc': ci(m.test.acc),
        'test auc': ci(m.test.auc),
        [`corrupt. ${r.metric}`]: m.corruptionMean === null ? '—' : f3(m.corruptionMean),
        epochs: m.epochs
      })),
      ['method', `val ${r.metric}`, `test ${r.metric}`, 'test acc', 'test auc', `corrupt. ${r.metric}`, 'epochs']
    ))
      out(line)
  }
}
