/**
 * torchvision MobileNetV2 (width 1) names → the engine's mobilenetv2 (stride-2 stem).
 *
 *   features.0.0, .0.1                    → stem_conv, stem_bn
 *   features.1.conv.0.0 / .0.1 / .1 / .2  → block1_0_dw_conv / _dw_bn / _project_conv / _project_bn
 *   features.J.conv.0.0 / .0.1            → blockS_I_expand_conv / _bn       (J = 2 … 17)
 *   features.J.conv.1.0 / .1.1            → blockS_I_dw_conv / _bn
 *   features.J.conv.2 / .3                → blockS_I_project_conv / _bn
 *   features.18.0, .18.1                  → top_conv, top_bn
 *   classifier.1                          → head
 */
import { Mapper, type FromTorch } from './tensors'
import type { ModuleSpec } from './onnx'

/** Repeats per stage (the paper's Table 2, as the engine builds it). */
const REPEATS = [1, 2, 3, 4, 3, 3, 1]

/** Engine block name of each torchvision `features.J` (J = 1 … 17). */
function blockNames(): string[] {
  const out: string[] = []
  REPEATS.forEach((n, s) => {
    for (let i = 0; i < n; i++) out.push(`block${s + 1}_${i}`)
  })
  return out
}

/** [torch conv, torch bn, engine layer, depthwise] of every conv in forward order. */
function convs(): [string, string, string, boolean][] {
  const out: [string, string, string, boolean][] = [['features.0.0', 'features.0.1', 'stem', false]]
  blockNames().forEach((b, k) => {
    const j = k + 1
    if (j === 1) {
      out.push(
        [`features.1.conv.0.0`, `features.1.conv.0.1`, `${b}_dw`, true],
        [`features.1.conv.1`, `features.1.conv.2`, `${b}_project`, false]
      )
    } else {
      out.push(
        [`features.${j}.conv.0.0`, `features.${j}.conv.0.1`, `${b}_expand`, false],
        [`features.${j}.conv.1.0`, `features.${j}.conv.1.1`, `${b}_dw`, true],
        [`features.${j}.conv.2`, `features.${j}.conv.3`, `${b}_project`, false]
      )
    }
  })
  out.push(['features.18.0', 'features.18.1', 'top', false])
  return out
}

export const mobilenetv2FromTorch: FromTorch = (t) => {
  if (!t.has('features.0.0.weight') || !t.has('features.1.conv.0.0.weight') || !t.has('classifier.1.weight'))
    return null
  const stem = t.get('features.0.0.weight')!.shape
  if (stem[0] !== 32)
    throw new Error(
      `tensor features.0.0.weight: shape [${stem}]: only width multiplier 1 (32 stem channels) is supported for MobileNetV2`
    )
  if (!t.has('features.18.0.weight') || t.has('features.19.0.weight'))
    throw new Error("tensor features.18.0.weight: the file's MobileNetV2 does not have torchvision's 19 feature stages")
  const m = new Mapper(t, 'mobilenetv2')
  for (const [conv, bn, layer, dw] of convs()) {
    m.conv(`${conv}.weight`, `${layer}_conv`, dw)
    m.bn(bn, `${layer}_bn`)
  }
  m.linear('classifier.1', 'head')
  return m.finish('mobilenetv2', {
    widthMultiplier: 1,
    stem: 'imagenet',
    numClasses: t.get('classifier.1.weight')!.shape[0]
  })
}

/** Parameter modules in forward order (for ONNX graphs whose names were lost). */
export function mobilenetv2Modules(): ModuleSpec[][] {
  const out: ModuleSpec[] = []
  for (const [conv, bn] of convs()) out.push({ kind: 'conv', name: conv }, { kind: 'bn', name: bn })
  out.push({ kind: 'linear', name: 'classifier.1' })
  return [out]
}
