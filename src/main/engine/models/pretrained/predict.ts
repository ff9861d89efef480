/**
 * Model outputs on raw images, with the model's own preprocessing (resize to its input size,
 * gray repeated to 3 channels, x/255, (x − mean)/std): logits, or probabilities (softmax for
 * single-label, sigmoid for multi-label). Used by `fissionfusion predict`.
 */
import * as tf from '@tensorflow/tfjs'
import { toModelInput } from '../../evaluate/predict'
import type { TaskKind } from '../../data/types'

/** Options of {@link predictImages}. */
export interface PredictImagesOptions {
  normalization: { mean: number | number[]; std: number | number[] }
  task: TaskKind
  /** Logits instead of probabilities. */
  logits?: boolean
  batchSize?: number
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

/**
 * Outputs N × K (row-major) for `n` uint8 images of `shape` [H, W, C] laid out N × H × W × C.
 * Leaves no tensor behind.
 */
export async function predictImages(
  model: tf.LayersModel,
  images: Uint8Array,
  n: number,
  shape: [number, number, number],
  o: PredictImagesOptions
): Promise<Float32Array> {
  const per = shape[0] * shape[1] * shape[2]
  if (images.length !== n * per)
    throw new Error(`predict: ${images.length} pixels for ${n} images of ${shape.join('×')}`)
  const k = (model.outputs[0].shape as number[])[1]
  const out = new Float32Array(n * k)
  const bs = Math.max(1, o.batchSize ?? 16)
  for (let start = 0; start < n; start += bs) {
    o.signal?.throwIfAborted()
    const m = Math.min(bs, n - start)
    const batch = { x: images.subarray(start * per, (start + m) * per), n: m }
    const y = tf.tidy(() => {
      const logits = model.apply(toModelInput(model, batch, { imageShape: shape, normalization: o.normalization }), {
        training: false
      }) as tf.Tensor2D
      return o.logits ? logits : o.task === 'single' ? tf.softmax(logits) : tf.sigmoid(logits)
    })
    out.set((await y.data()) as Float32Array, start * k)
    y.dispose()
    o.onProgress?.(start + m, n)
    await new Promise((r) => setImmediate(r))
  }
  return out
}

/** Images to predict, all at the model's size, with their names and the inputs that could not be used. */
export interface PredictInput {
  /** n × H × W × C uint8. */
  images: Uint8Array
  n: number
  shape: [number, number, number]
  /** One name per image: `index` for an .npz, the relative path (`#frame` for multi-frame DICOM) for a folder. */
  names: string[]
  errors: { file: string; reason: string }[]
}

/**
 * Reads an `.npz` (its uint8 array `images`, or its only uint8 N×H×W(×C) array; kept at its own
 * size: the model input resizes it) or an image / DICOM folder (each image resized to `size`,
 * gray repeated to 3 channels, with the import's decoders). Unreadable files are listed, not fatal.
 */
export async function loadPredictInput(
  path: string,
  size: [number, number],
  o: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}
): Promise<PredictInput> {
  const { stat, readFile } = await import('node:fs/promises')
  const { basename, join } = await import('node:path')
  const st = await stat(path).catch(() => null)
  if (!st) throw new Error(`${basename(path)}: no such file or folder`)
  if (st.isFile()) {
    if (!/\.npz$/i.test(path))
      throw new Error(`${basename(path)}: give an .npz of uint8 images or a folder of images / DICOM files`)
    const { unzipSync } = await import('fflate')
    const { parseNpy } = await import('../../data/npy')
    let files: Record<string, Uint8Array>
    try {
      files = unzipSync(new Uint8Array(await readFile(path)))
    } catch (e) {
      throw new Error(`${basename(path)}: not a readable .npz (${(e as Error).message})`)
    }
    const arrays = Object.entries(files)
      .map(([k, v]) => {
        try {
          return [k.replace(/\.npy$/, ''), parseNpy(v)] as const
        } catch {
          return null
        }
      })
      .filter((x) => x !== null)
    const candidates = arrays.filter(([, a]) => a.dtype === '|u1' && (a.shape.length === 3 || a.shape.length === 4))
    const pick =
      candidates.find(([k]) => k === 'images') ??
      (candidates.length === 1 ? candidates[0] : candidates.find(([k]) => k === 'test_images'))
    if (!pick)
      throw new Error(
        `${basename(path)}: no uint8 image array (N×H×W or N×H×W×C) named 'images'${candidates.length > 1 ? ` among ${candidates.map(([k]) => k).join(', ')}` : ''}`
      )
    const [, a] = pick
    const [n, h, w, c] = [a.shape[0], a.shape[1], a.shape[2], a.shape[3] ?? 1]
    if (c !== 1 && c !== 3) throw new Error(`${basename(path)}: images have ${c} channels (1 or 3 expected)`)
    return {
      images: a.data as Uint8Array,
      n,
      shape: [h, w, c],
      names: Array.from({ length: n }, (_, i) => String(i)),
      errors: []
    }
  }
  const { walk, loadFile } = await import('../../data/importers/files')
  const { preprocess } = await import('../../data/image')
  if (size[0] !== size[1])
    throw new Error(`model input ${size[0]}×${size[1]} is not square; folders are resized to squares`)
  const files = await walk(path)
  const parts: Uint8Array[] = []
  const names: string[] = []
  const errors: PredictInput['errors'] = []
  for (let i = 0; i < files.length; i++) {
    o.signal?.throwIfAborted()
    const rel = files[i]
    try {
      const frames = await loadFile(join(path, rel))
      for (let f = 0; f < frames.length; f++) {
        parts.push(await preprocess(frames[f], size[0], 3))
        names.push(frames.length > 1 ? `${rel}#${f}` : rel)
      }
    } catch (e) {
      errors.push({ file: rel, reason: (e as Error).message })
    }
    o.onProgress?.(i + 1, files.length)
  }
  if (parts.length === 0)
    throw Object.assign(new Error(`${basename(path)}: no usable image among ${files.length} file(s)`), { errors })
  const per = size[0] * size[1] * 3
  const images = new Uint8Array(parts.length * per)
  parts.forEach((p, i) => images.set(p, i * per))
  return { images, n: parts.length, shape: [size[0], size[1], 3], names, errors }
}

/** A float32 N × K array as a NumPy `.npy` (version 1.0, little-endian). */
export function npyBytes(values: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`
  const total = 10 + header.length + 1
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n'
  const out = new Uint8Array(10 + header.length + values.byteLength)
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0])
  new DataView(out.buffer).setUint16(8, header.length, true)
  out.set(new TextEncoder().encode(header), 10)
  const view = new DataView(out.buffer, 10 + header.length)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true)
  return out
}

/** Outputs as CSV: `image` then one column per class (`<class>` probabilities or `logit_<class>`). */
export function csvText(values: Float32Array, names: string[], classes: string[], logits: boolean): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
  const k = classes.length
  const lines = [['image', ...classes.map((c) => (logits ? `logit_${c}` : c))].map(quote).join(',')]
  names.forEach((name, i) =>
    lines.push([quote(name), ...Array.from(values.subarray(i * k, (i + 1) * k), (v) => String(v))].join(','))
  )
  return lines.join('\n') + '\n'
}
