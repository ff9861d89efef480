/**
 * torchvision / timm ResNet names → the engine's resnet18 / resnet50 (imagenet stem).
 *
 *   conv1, bn1                          → stem_conv, stem_bn
 *   layerS.I.convK, bnK (K = 1, 2, 3)   → layerS_I_{a,b,c}_conv, _bn
 *   layerS.I.downsample.0, .1           → layerS_I_down_conv, _bn
 *   fc                                  → head
 */
import { countModules, Mapper, type FromTorch, type TorchTensors } from './tensors'
import type { ModuleSpec } from './onnx'

const VARIANTS: { arch: string; bottleneck: boolean; depths: number[] }[] = [
  { arch: 'resnet18', bottleneck: false, depths: [2, 2, 2, 2] },
  { arch: 'resnet50', bottleneck: true, depths: [3, 4, 6, 3] }
]

function depthsOf(t: TorchTensors): number[] {
  return [1, 2, 3, 4].map((s) => countModules(t, (i) => `layer${s}.${i}.conv1.weight`))
}

function blocks(
  v: (typeof VARIANTS)[number],
  each: (s: number, i: number, convs: number, down: boolean) => void
): void {
  v.depths.forEach((n, stage) => {
    for (let i = 0; i < n; i++) each(stage + 1, i, v.bottleneck ? 3 : 2, i === 0 && (stage > 0 || v.bottleneck))
  })
}

export const resnetFromTorch: FromTorch = (t) => {
  if (!t.has('conv1.weight') || !t.has('layer1.0.conv1.weight') || !t.has('fc.weight')) return null
  const bottleneck = t.has('layer1.0.conv3.weight')
  const depths = depthsOf(t)
  const v = VARIANTS.find((x) => x.bottleneck === bottleneck && x.depths.join() === depths.join())
  if (!v)
    throw new Error(
      `a ResNet with ${bottleneck ? 'bottleneck' : 'basic'} blocks ${depths.join('-')} is not an engine architecture (resnet18: basic 2-2-2-2, resnet50: bottleneck 3-4-6-3)`
    )
  const m = new Mapper(t, v.arch)
  m.conv('conv1.weight', 'stem_conv')
  m.bn('bn1', 'stem_bn')
  blocks(v, (s, i, convs, down) => {
    for (let k = 1; k <= convs; k++) {
      const layer = `layer${s}_${i}_${'abc'[k - 1]}`
      m.conv(`layer${s}.${i}.conv${k}.weight`, `${layer}_conv`)
      m.bn(`layer${s}.${i}.bn${k}`, `${layer}_bn`)
    }
    if (down) {
      m.conv(`layer${s}.${i}.downsample.0.weight`, `layer${s}_${i}_down_conv`)
      m.bn(`layer${s}.${i}.downsample.1`, `layer${s}_${i}_down_bn`)
    } else if (t.has(`layer${s}.${i}.downsample.0.weight`)) {
      throw new Error(`tensor layer${s}.${i}.downsample.0.weight: ${v.arch} has no downsample in this block`)
    }
  })
  m.linear('fc', 'head')
  return m.finish(v.arch, { stem: 'imagenet', numClasses: t.get('fc.weight')!.shape[0] })
}

/** The parameter modules of each variant in forward order (for ONNX graphs whose names were lost). */
export function resnetModules(): ModuleSpec[][] {
  return VARIANTS.map((v) => {
    const out: ModuleSpec[] = [
      { kind: 'conv', name: 'conv1' },
      { kind: 'bn', name: 'bn1' }
    ]
    blocks(v, (s, i, convs, down) => {
      for (let k = 1; k <= convs; k++)
        out.push({ kind: 'conv', name: `layer${s}.${i}.conv${k}` }, { kind: 'bn', name: `layer${s}.${i}.bn${k}` })
      if (down)
        out.push(
          { kind: 'conv', name: `layer${s}.${i}.downsample.0` },
          { kind: 'bn', name: `layer${s}.${i}.downsample.1` }
        )
    })
    out.push({ kind: 'linear', name: 'fc' })
    return out
  })
}
