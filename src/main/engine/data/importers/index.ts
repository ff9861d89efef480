/**
 * The importer registry: every importer listed once, in detection order
 * (most specific content check first). Nothing registers itself on import.
 */
import { csvImporter } from './csv'
import { dicomImporter, folderImporter } from './folder'
import { idxImporter } from './idx'
import { npzImporter } from './npz'
import type { FormatName, Importer } from './types'

/** All importers, in auto-detection order. */
export const IMPORTERS: readonly Importer[] = [npzImporter, idxImporter, csvImporter, dicomImporter, folderImporter]

/** The importer for a forced format, or the first whose content check accepts the input. */
export async function chooseImporter(
  input: string,
  format: FormatName | 'auto' = 'auto',
  csv?: string
): Promise<Importer> {
  if (format !== 'auto') {
    const imp = IMPORTERS.find((i) => i.name === format)
    if (!imp) throw new Error(`unknown format "${format}" (known: ${IMPORTERS.map((i) => i.name).join(', ')})`)
    return imp
  }
  for (const imp of IMPORTERS) if (await imp.detect(input, csv)) return imp
  throw new Error(
    'could not recognise the input: expected a .npz archive, idx files, a CSV manifest, a DICOM folder or a folder of class sub-folders'
  )
}

export type { FormatName, Importer } from './types'
