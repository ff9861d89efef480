import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { existsSync, mkdtempSync, promises as fsp, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TaskKind } from '../../../../src/main/engine/data/types'
import { predictBatches } from '../../../../src/main/engine/evaluate/predict'
import {
  cardFromMetadata,
  decodeModel,
  exportModel,
  importExportedModel,
  ONNX_WEIGHTS_KEY,
  tfjsFileHandler,
  UnsafeCardError,
  type CardInput,
  type ModelCard
} from '../../../../src/main/engine/export/index'
import { sha256Hex } from '../../../../src/main/engine/export/files'
import { ModelProto } from '../../../../src/main/engine/export/onnx/schema'
import { ARCHITECTURES } from '../../../../src/main/engine/models/index'
import { loadModel, readCheckpoint, weightsOf, writeCheckpoint } from '../../../../src/main/engine/models/checkpoint'
import { argmaxRows, maxAbsDiff, randomizeWeights, rng, runOnnx } from './helpers'

const work = mkdtempSync(join(tmpdir(), 'ff-export-'))
const NORM = { mean: [0.45, 0.5, 0.55], std: [0.2, 0.25, 0.3] }
const CLASSES = ['0', '1', '2', '3', '4']

const cardInput: CardInput = {
  appVersion: '0.1.0',
  modelName: 'uniform soup',
  datasetName: 'RetinaMNIST',
  method: {
    kind: 'uniform soup',
    ingredients: [
      { id: 'm1', hyperparameters: { lr: 1e-4, seed: 0 } },
      { id: 'm2', hyperparameters: { lr: 1e-4, seed: 1 } }
    ]
  },
  metrics: [{ split: 'test', metric: 'acc', value: 0.5, ci95: [0.45, 0.55], n: 400 }]
}

/** Writes a checkpoint of `arch` with seeded random weights. */
async function makeCheckpoint(
  arch: string,
  task: TaskKind,
  seed: number,
  dir = join(work, `${arch}-${task}-${seed}`)
): Promise<string> {
  const model = ARCHITECTURES[arch].build({ inputShape: [28, 28, 3], numClasses: CLASSES.length, seed })
  randomizeWeights(model, seed)
  await writeCheckpoint(dir, {
    meta: {
      arch,
      archOptions: {},
      inputShape: [28, 28, 3],
      classes: CLASSES,
      task,
      output: 'logits',
      normalization: NORM
    },
    weights: weightsOf(model)
  })
  model.dispose()
  return dir
}

/** Seeded uint8 images N × 28 × 28 × 3. */
function images(n: number, seed: number): Uint8Array {
  const r = rng(seed)
  return Uint8Array.from({ length: n * 28 * 28 * 3 }, () => Math.floor(r() * 256))
}

/** The card's preprocessing applied in plain JS, as a deployment would. */
function preprocess(card: ModelCard, x: Uint8Array): Float32Array {
  const { scale, mean, std, channels } = card.preprocessing
  return Float32Array.from(x, (v, i) => (v * scale - mean[i % channels]) / std[i % channels])
}

/** The app's own inference on a checkpoint (probabilities). */
async function appProbs(dir: string, x: Uint8Array, n: number): Promise<Float32Array> {
  const ckpt = await readCheckpoint(dir)
  const model = await loadModel(ckpt)
  try {
    return (
      await predictBatches(model, [{ x, n }], {
        task: ckpt.meta.task,
        imageShape: [28, 28, 3],
        normalization: ckpt.meta.normalization
      })
    ).probs
  } finally {
    model.dispose()
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu')
})
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('exportModel to ONNX', () => {
  it("writes one file whose probabilities, on the card's preprocessing, equal the app's inference", async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 1)
    const out = join(work, 'out', 'soup.onnx')
    const before = tf.memory().numTensors
    const progress: string[] = []
    const res = await exportModel({
      checkpointDir: dir,
      format: 'onnx',
      outFile: out,
      card: cardInput,
      withMarkdown: true,
      onProgress: (p) => progress.push(p.phase)
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(progress).toEqual(['load', 'convert', 'write', 'done'])
    const bytes = await fsp.readFile(out)
    expect(res.file).toBe(out)
    expect(res.sha256).toBe(sha256Hex(bytes))
    expect(res.files).toEqual([out, join(work, 'out', 'soup.md')])
    expect(readdirSync(join(work, 'out')).sort()).toEqual(['soup.md', 'soup.onnx'])
    // The card's weight hash is the hash of the checkpoint's weights.bin.
    expect(res.card.weightsSha256).toBe(sha256Hex(await fsp.readFile(join(dir, 'weights.bin'))))
    expect(res.card.preprocessing).toEqual({ size: [28, 28], channels: 3, layout: 'NHWC', scale: 1 / 255, ...NORM })
    expect(cardFromMetadata(decodeModel(bytes).metadata)).toEqual(res.card)

    const x = images(16, 3)
    const onnx = await runOnnx(bytes, preprocess(res.card, x), [16, 28, 28, 3])
    const app = await appProbs(dir, x, 16)
    expect(maxAbsDiff(onnx.data, app)).toBeLessThanOrEqual(1e-4)
    expect(argmaxRows(onnx.data, 5)).toEqual(argmaxRows(app, 5))
    const md = await fsp.readFile(join(work, 'out', 'soup.md'), 'utf8')
    expect(md).toContain(res.card.weightsSha256)
    expect(md).not.toContain(work)
    expect(bytes.includes(Buffer.from(work))).toBe(false)
  })

  it('declares the NHWC input and probability output to onnxruntime', async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 2)
    const res = await exportModel({
      checkpointDir: dir,
      format: 'onnx',
      outFile: join(work, 'io.onnx'),
      card: cardInput
    })
    const session = await ort.InferenceSession.create(res.file)
    try {
      expect(session.inputNames).toEqual(['image'])
      expect(session.outputNames).toEqual(['probabilities'])
      const input = session.inputMetadata[0]
      expect(input.isTensor && input.shape).toEqual(['N', 28, 28, 3])
    } finally {
      await session.release()
    }
  })

  it('ends a multi-label model in per-label sigmoids', async () => {
    const dir = await makeCheckpoint('smallcnn', 'multilabel', 3)
    const res = await exportModel({
      checkpointDir: dir,
      format: 'onnx',
      outFile: join(work, 'ml.onnx'),
      card: cardInput
    })
    expect(res.card.output.activation).toBe('sigmoid')
    const x = images(8, 4)
    const onnx = await runOnnx(await fsp.readFile(res.file), preprocess(res.card, x), [8, 28, 28, 3])
    const app = await appProbs(dir, x, 8)
    expect(maxAbsDiff(onnx.data, app)).toBeLessThanOrEqual(1e-4)
    // Sigmoid rows do not sum to 1 (softmax rows would).
    expect(Math.abs(onnx.data.slice(0, 5).reduce((a, b) => a + b, 0) - 1)).toBeGreaterThan(1e-3)
  })

  it('writes nothing when the card carries a local path', async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 4)
    const out = join(work, 'unsafe', 'x.onnx')
    const before = tf.memory().numTensors
    await expect(
      exportModel({
        checkpointDir: dir,
        format: 'onnx',
        outFile: out,
        card: { ...cardInput, datasetName: '/home/alice/pacs-export' }
      })
    ).rejects.toThrow(UnsafeCardError)
    await expect(
      exportModel({
        checkpointDir: dir,
        format: 'onnx',
        outFile: out,
        card: { ...cardInput, modelName: 'for SMITH^ANN' },
        forbidden: ['SMITH^ANN']
      })
    ).rejects.toThrow(/card\.modelName/)
    expect(tf.memory().numTensors).toBe(before)
    expect(existsSync(join(work, 'unsafe'))).toBe(false)
  })
})

describe('exportModel cancellation', () => {
  it('stops before writing when the signal is aborted, leaving no tensors and no file', async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 9)
    const controller = new AbortController()
    controller.abort()
    const before = tf.memory().numTensors
    const out = join(work, 'cancelled', 'x.onnx')
    await expect(
      exportModel({ checkpointDir: dir, format: 'onnx', outFile: out, card: cardInput, signal: controller.signal })
    ).rejects.toThrow('export cancelled')
    expect(tf.memory().numTensors).toBe(before)
    expect(existsSync(join(work, 'cancelled'))).toBe(false)
  })
})

describe('exportModel to TF.js', () => {
  it('writes model.json + weights that tf.loadLayersModel runs to the same probabilities', async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 5)
    const out = join(work, 'tfjs', 'soup.json')
    const before = tf.memory().numTensors
    const res = await exportModel({ checkpointDir: dir, format: 'tfjs', outFile: out, card: cardInput })
    expect(tf.memory().numTensors).toBe(before)
    expect(readdirSync(join(work, 'tfjs')).sort()).toEqual(['soup.json', 'soup.weights.bin'])
    const json = JSON.parse(await fsp.readFile(out, 'utf8'))
    expect(json.format).toBe('layers-model')
    expect(json.weightsManifest[0].paths).toEqual(['soup.weights.bin'])
    expect(json.userDefinedMetadata['fissionfusion.card']).toEqual(res.card)
    expect(res.sha256).toBe(sha256Hex(await fsp.readFile(out)))

    const loaded = await tf.loadLayersModel(tfjsFileHandler(out))
    const x = images(8, 6)
    const probs = tf.tidy(
      () => (loaded.predict(tf.tensor(preprocess(res.card, x), [8, 28, 28, 3])) as tf.Tensor).dataSync() as Float32Array
    )
    loaded.dispose()
    const app = await appProbs(dir, x, 8)
    expect(maxAbsDiff(probs, app)).toBeLessThanOrEqual(1e-5)
  })
})

describe('re-import of an export as a starting point', () => {
  // deit_s16 (22 M parameters) and vit_b16 (86 M) run the code of `vit` (ViT-Ti, 5.7 M) at larger widths: left out here
  // to keep the suite's time (~2.5 min); the ViT tests are test/main/engine/models/vit*.test.ts.
  for (const arch of Object.keys(ARCHITECTURES).filter((a) => a !== 'vit_b16' && a !== 'deit_s16')) {
    it(`${arch}: ONNX and TF.js give back the exact weights`, async () => {
      const dir = await makeCheckpoint(arch, 'single', 7)
      const original = await readCheckpoint(dir)
      for (const format of ['onnx', 'tfjs'] as const) {
        const out = join(work, 'rt', `${arch}.${format === 'onnx' ? 'onnx' : 'json'}`)
        const before = tf.memory().numTensors
        const res = await exportModel({ checkpointDir: dir, format, outFile: out, card: cardInput })
        const back = await importExportedModel(out)
        expect(tf.memory().numTensors).toBe(before)
        expect(back.card).toEqual(res.card)
        expect(back.checkpoint.meta).toMatchObject({
          arch,
          inputShape: [28, 28, 3],
          classes: CLASSES,
          task: 'single',
          normalization: NORM
        })
        expect(back.checkpoint.weights.map((w) => [w.name, w.shape, w.kind])).toEqual(
          original.weights.map((w) => [w.name, w.shape, w.kind])
        )
        back.checkpoint.weights.forEach((w, i) => expect(maxAbsDiff(w.data, original.weights[i].data)).toBe(0))
        // It is a usable starting point: the checkpoint reader and model builder accept it.
        await writeCheckpoint(join(work, 'rt', `${arch}-${format}-ckpt`), {
          meta: back.checkpoint.meta,
          weights: back.checkpoint.weights
        })
        ;(await loadModel(join(work, 'rt', `${arch}-${format}-ckpt`))).dispose()
      }
    }, 600_000)
  }

  it('refuses an ONNX file whose weights were changed after export', async () => {
    const dir = await makeCheckpoint('smallcnn', 'single', 8)
    const res = await exportModel({
      checkpointDir: dir,
      format: 'onnx',
      outFile: join(work, 'tamper.onnx'),
      card: cardInput
    })
    const bytes = await fsp.readFile(res.file)
    const map = JSON.parse(decodeModel(bytes).metadata[ONNX_WEIGHTS_KEY]) as Record<string, { initializer: string }>
    expect(Object.keys(map)).toContain('head/bias')
    const proto = ModelProto.toObject(ModelProto.decode(bytes)) as {
      graph: { initializer: { name: string; raw_data: Uint8Array }[] }
    }
    const bias = proto.graph.initializer.find((t) => t.name === map['head/bias'].initializer)
    if (!bias) throw new Error('head/bias initializer missing')
    bias.raw_data[0] ^= 0x01
    await fsp.writeFile(join(work, 'tampered.onnx'), ModelProto.encode(ModelProto.fromObject(proto)).finish())
    await expect(importExportedModel(join(work, 'tampered.onnx'))).rejects.toThrow(
      /tampered\.onnx: weights do not match the card's SHA-256/
    )
    await fsp.writeFile(join(work, 'garbage.onnx'), bytes.subarray(0, 1000))
    await expect(importExportedModel(join(work, 'garbage.onnx'))).rejects.toThrow(/garbage\.onnx: /)
  })
})
