/** `bench pretrained`: imported torchvision networks at full size against PyTorch's logits (the Bar). */
import { intFlag, listOf, startBackend, type CliCommand } from './types'

export const benchPretrainedCommand: CliCommand = {
  command: 'bench pretrained',
  description:
    'Import seeded torchvision networks (safetensors and ONNX) and compare their logits with PyTorch on random images.',
  options: [
    intFlag('--size <px>', 'image side (default 224)', 32),
    intFlag('--images <n>', 'random images (default 32)', 1),
    {
      flags: '--nets <list>',
      description: 'resnet18,resnet50,densenet121,mobilenet_v2,vit_s16 (DeiT-S shape) (default all)',
      parse: listOf('--nets', (s) => s)
    },
    {
      flags: '--formats <list>',
      description: 'safetensors,onnx,preserve.onnx (default safetensors,onnx)',
      parse: listOf('--formats', (s) => s)
    }
  ],
  async run(ctx, _args, o) {
    const { benchPretrained } = await import('../engine/models/pretrained/bench')
    const info = await startBackend(ctx)
    const r = await benchPretrained({
      size: o.size as number | undefined,
      images: o.images as number | undefined,
      nets: o.nets as string[] | undefined,
      formats: o.formats as string[] | undefined,
      log: (l) => ctx.log(l)
    })
    return { backend: info.backend, ...r }
  },
  print(result, out) {
    const r = result as Awaited<ReturnType<typeof import('../engine/models/pretrained/bench').benchPretrained>> & {
      backend: string
    }
    out(
      `${r.images} random ${r.size} px images, backend ${r.backend}; PyTorch build + export ${r.pythonSeconds.toFixed(0)} s`
    )
    out('net            format        arch         max|diff|/max|logit|  max|logit|  import s  ms/image')
    for (const x of r.rows) {
      out(
        `${x.net.padEnd(14)} ${x.format.padEnd(13)} ${x.arch.padEnd(12)} ${x.relDiff.toExponential(2).padStart(20)}  ${x.maxAbsLogit.toFixed(3).padStart(10)}  ${x.importSeconds.toFixed(1).padStart(8)}  ${x.msPerImage.toFixed(0).padStart(8)}`
      )
    }
    out(`tensors left behind: ${r.leakedTensors}`)
  }
}
