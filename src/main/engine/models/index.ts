/**
 * The architecture registry: every architecture the engine can build, listed once.
 * Nothing registers itself on import.
 */
import { densenet121 } from './densenet'
import { mobilenetv2 } from './mobilenetv2'
import { resnet18, resnet50 } from './resnet'
import { smallcnn } from './smallcnn'
import type { ArchConfig } from './types'
import { deitS16, vit, vitB16 } from './vit'

/** All architectures, by registry key. */
export const ARCHITECTURES: Readonly<Record<string, ArchConfig>> = {
  smallcnn,
  resnet18,
  resnet50,
  mobilenetv2,
  densenet121,
  deit_s16: deitS16,
  vit_b16: vitB16,
  vit
}

/** Looks an architecture up by name; throws a message listing the known names. */
export function getArch(name: string): ArchConfig {
  const arch = ARCHITECTURES[name]
  if (!arch) throw new Error(`unknown architecture "${name}"; known: ${Object.keys(ARCHITECTURES).join(', ')}`)
  return arch
}

export type { ArchConfig, ArchBuildOptions, InputShape } from './types'
export { HEAD_LAYER, FEATURES_LAYER } from './types'
