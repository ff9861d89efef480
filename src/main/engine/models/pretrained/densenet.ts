/**
 * torchvision / timm DenseNet-121 names → the engine's densenet121 (imagenet stem).
 *
 *   features.conv0, norm0                               → stem_conv, stem_bn
 *   features.denseblockB.denselayerI.norm1/conv1/norm2/conv2 → blockB_I_1_bn / _1_conv / _2_bn / _2_conv
 *   features.transitionB.norm / conv                    → transB_bn / transB_conv
 *   features.norm5                                      → final_bn
 *   classifier                                          → head
 */
import { DENSENET121_BLOCKS } from '../densenet'
import { countModules, Mapper, type FromTorch } from './tensors'
import type { ModuleSpec } from './onnx'

const P = 'features.'

export const densenetFromTorch: FromTorch = (t) => {
  if (!t.has(`${P}conv0.weight`) || !t.has(`${P}denseblock1.denselayer1.conv1.weight`) || !t.has('classifier.weight'))
    return null
  const depths = [1, 2, 3, 4].map((b) => countModules(t, (i) => `${P}denseblock${b}.denselayer${i}.conv1.weight`, 1))
  if (depths.join() !== DENSENET121_BLOCKS.join())
    throw new Error(
      `a DenseNet with blocks ${depths.join('-')} is not an engine architecture (densenet121: ${DENSENET121_BLOCKS.join('-')})`
    )
  const m = new Mapper(t, 'densenet121')
  m.conv(`${P}conv0.weight`, 'stem_conv')
  m.bn(`${P}norm0`, 'stem_bn')
  DENSENET121_BLOCKS.forEach((n, b) => {
    for (let i = 1; i <= n; i++) {
      const src = `${P}denseblock${b + 1}.denselayer${i}`
      const dst = `block${b + 1}_${i}`
      m.bn(`${src}.norm1`, `${dst}_1_bn`)
      m.conv(`${src}.conv1.weight`, `${dst}_1_conv`)
      m.bn(`${src}.norm2`, `${dst}_2_bn`)
      m.conv(`${src}.conv2.weight`, `${dst}_2_conv`)
    }
    if (b < DENSENET121_BLOCKS.length - 1) {
      m.bn(`${P}transition${b + 1}.norm`, `trans${b + 1}_bn`)
      m.conv(`${P}transition${b + 1}.conv.weight`, `trans${b + 1}_conv`)
    }
  })
  m.bn(`${P}norm5`, 'final_bn')
  m.linear('classifier', 'head')
  return m.finish('densenet121', { stem: 'imagenet', numClasses: t.get('classifier.weight')!.shape[0] })
}

/** Parameter modules in forward order (for ONNX graphs whose names were lost). */
export function densenetModules(): ModuleSpec[][] {
  const out: ModuleSpec[] = [
    { kind: 'conv', name: `${P}conv0` },
    { kind: 'bn', name: `${P}norm0` }
  ]
  DENSENET121_BLOCKS.forEach((n, b) => {
    for (let i = 1; i <= n; i++) {
      const s = `${P}denseblock${b + 1}.denselayer${i}`
      out.push(
        { kind: 'bn', name: `${s}.norm1` },
        { kind: 'conv', name: `${s}.conv1` },
        { kind: 'bn', name: `${s}.norm2` },
        { kind: 'conv', name: `${s}.conv2` }
      )
    }
    if (b < DENSENET121_BLOCKS.length - 1)
      out.push(
        { kind: 'bn', name: `${P}transition${b + 1}.norm` },
        { kind: 'conv', name: `${P}transition${b + 1}.conv` }
      )
  })
  out.push({ kind: 'bn', name: `${P}norm5` }, { kind: 'linear', name: 'classifier' })
  return [out]
}
