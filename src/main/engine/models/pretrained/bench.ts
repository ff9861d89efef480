/**
 * `bench pretrained`: the Bar's full-size check. torchvision networks built from seeds with
 * randomised BatchNorm statistics (test/fixtures/pretrained/make_nets.py, Debian's python3-torch)
 * are written as safetensors and ONNX; each is imported and run on the same random images, and
 * the engine's logits are compared with PyTorch's (max abs difference / max |logit|).
 */
import * as tf from '@tensorflow/tfjs'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { unzipSync } from 'fflate'
import { parseNpy } from '../../data/npy'
import { modelOf, readPretrained } from './index'
import { predictImages } from './predict'

/** One network in one file format. */
export interface PretrainedBenchRow {
  net: string
  format: string
  arch: string
  /** max |engine − PyTorch| / max |PyTorch logit|. */
  relDiff: number
  maxAbsLogit: number
  importSeconds: number
  /** Inference wall time per image, ms (batch 16). */
  msPerImage: number
  tensors: { matched: number; reshaped: number; skipped: number }
}

export interface PretrainedBenchResult {
  size: number
  images: number
  pythonSeconds: number
  rows: PretrainedBenchRow[]
  /** Tensors left behind by all imports and predictions (0 expected). */
  leakedTensors: number
}

const SCRIPT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../../test/fixtures/pretrained/make_nets.py'
)

export async function benchPretrained(
  o: { size?: number; images?: number; nets?: string[]; formats?: string[]; log?: (l: string) => void } = {}
): Promise<PretrainedBenchResult> {
  const size = o.size ?? 224
  const n = o.images ?? 32
  const nets = o.nets ?? ['resnet18', 'resnet50', 'densenet121', 'mobilenet_v2', 'vit_s16']
  const formats = o.formats ?? ['safetensors', 'onnx']
  const dir = mkdtempSync(path.join(tmpdir(), 'ff-bench-pretrained-'))
  try {
    const t0 = Date.now()
    o.log?.(`building ${nets.join(', ')} in PyTorch and writing them (${size} px, ${n} images)...`)
    await promisify(execFile)('/usr/bin/python3', [SCRIPT, dir, String(size), String(n), nets.join(',')], {
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      maxBuffer: 16 << 20
    })
    const pythonSeconds = (Date.now() - t0) / 1000
    const images = parseNpy(unzipSync(new Uint8Array(readFileSync(path.join(dir, 'images.npz'))))['images.npy'])
      .data as Uint8Array
    const before = tf.memory().numTensors
    const rows: PretrainedBenchRow[] = []
    for (const net of nets) {
      const ref = parseNpy(new Uint8Array(readFileSync(path.join(dir, `${net}.logits.npy`)))).data
      for (const format of formats) {
        const t1 = Date.now()
        const imp = await readPretrained(path.join(dir, `${net}.${format}`), { size })
        const model = modelOf(imp)
        const importSeconds = (Date.now() - t1) / 1000
        const t2 = Date.now()
        const got = await predictImages(model, images, n, [size, size, 3], {
          normalization: imp.preprocessing,
          task: 'single',
          logits: true,
          batchSize: 16
        })
        const ms = (Date.now() - t2) / n
        model.dispose()
        let scale = 0
        let diff = 0
        for (let i = 0; i < ref.length; i++) {
          scale = Math.max(scale, Math.abs(ref[i]))
          diff = Math.max(diff, Math.abs(got[i] - ref[i]))
        }
        const row = {
          net,
          format,
          arch: imp.arch,
          relDiff: diff / scale,
          maxAbsLogit: scale,
          importSeconds,
          msPerImage: ms,
          tensors: {
            matched: imp.report.matched.length,
            reshaped: imp.report.reshaped.length,
            skipped: imp.report.skipped.length
          }
        }
        o.log?.(
          `${net} ${format}: max diff ${row.relDiff.toExponential(2)} of scale ${scale.toFixed(3)}, import ${importSeconds.toFixed(1)} s, ${ms.toFixed(0)} ms/image`
        )
        rows.push(row)
      }
    }
    return { size, images: n, pythonSeconds, rows, leakedTensors: tf.memory().numTensors - before }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
