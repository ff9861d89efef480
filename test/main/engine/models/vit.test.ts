import * as tf from '@tensorflow/tfjs'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { decodeModel } from '../../../../src/main/engine/export/onnx/model'
import {
  exportModel,
  importExportedModel,
  tfjsFileHandler,
  type CardInput
} from '../../../../src/main/engine/export/index'
import { predictBatches } from '../../../../src/main/engine/evaluate/predict'
import { rng, runOnnx } from '../export/helpers'
import { AdamW } from '../../../../src/main/engine/fission/adamw'
import { batchLoss, labelTensors } from '../../../../src/main/engine/fission/losses'
import {
  loadModel,
  readCheckpoint,
  setWeights,
  weightsOf,
  writeCheckpoint
} from '../../../../src/main/engine/models/checkpoint'
import { getArch } from '../../../../src/main/engine/models/index'
import { transferStart } from '../../../../src/main/engine/models/start'
import {
  fitPosEmbedding,
  resizePosEmbedding,
  torchTensorsFromOnnx,
  vitFromTorch,
  type TorchTensor,
  type VitImport
} from '../../../../src/main/engine/models/vit-weights'
import { makeVitFixture, maxAbs, maxAbsDiff, readSafetensors } from './vit-fixture'

// torchvision VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64), 5 classes.
const FLAGS = [
  '--seed',
  '7',
  '--image',
  '32',
  '--patch',
  '8',
  '--layers',
  '2',
  '--heads',
  '2',
  '--hidden',
  '32',
  '--mlp',
  '64',
  '--classes',
  '5',
  '--batch',
  '4',
  '--interp',
  '48',
  '--opset2',
  '17'
]

let dir: string
let io: Map<string, TorchTensor>

function build(imp: VitImport): tf.LayersModel {
  const model = getArch(imp.arch).build({ inputShape: [32, 32, 3], numClasses: 5, seed: 1, ...imp.build })
  const report = setWeights(model, imp.weights)
  expect(report.kept).toEqual([])
  expect(report.unused).toEqual([])
  return model
}

function logitsOf(model: tf.LayersModel, input: TorchTensor): Float32Array {
  return tf.tidy(
    () => (model.apply(tf.tensor(input.data, input.shape), { training: false }) as tf.Tensor).dataSync() as Float32Array
  )
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 })
  // Every forward and backward kernel of the ViT must exist on wasm (no silent fallback).
  expect(tf.getBackend()).toBe('wasm')
  dir = makeVitFixture(FLAGS)
  io = readSafetensors(join(dir, 'io.safetensors'))
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('ViT from PyTorch (torchvision VisionTransformer, 32 px, patch 8, 2 blocks, 2 heads, width 32)', () => {
  it("maps torchvision names from safetensors and gives PyTorch's logits", () => {
    const imp = vitFromTorch(readSafetensors(join(dir, 'torchvision.safetensors')), { heads: 2 }) as VitImport
    expect(imp.arch).toBe('vit')
    expect(imp.build).toEqual({
      inputShape: [32, 32, 3],
      numClasses: 5,
      vit: { patch: 8, hidden: 32, layers: 2, heads: 2, mlp: 64 }
    })
    // conv + 2 × (qkv, proj, fc1, fc2) + head are transposed; everything else is copied.
    expect(imp.report.reshaped).toHaveLength(1 + 2 * 4 + 1)
    expect(imp.report.matched).toHaveLength(32 - 10)
    expect(imp.report.skipped).toEqual([])
    const model = build(imp)
    const before = tf.memory().numTensors
    const ours = logitsOf(model, io.get('input') as TorchTensor)
    expect(tf.memory().numTensors).toBe(before)
    const ref = (io.get('logits') as TorchTensor).data
    const scale = maxAbs(ref)
    console.log(
      `torchvision safetensors: max |Δlogit| = ${maxAbsDiff(ours, ref).toExponential(2)}, scale ${scale.toFixed(3)}`
    )
    expect(scale).toBeGreaterThan(0.5)
    expect(maxAbsDiff(ours, ref)).toBeLessThanOrEqual(1e-4 * scale)
    model.dispose()
  })

  it('maps timm names (patch_embed, cls_token, blocks.N.attn.qkv, ...) to the same network', () => {
    const imp = vitFromTorch(readSafetensors(join(dir, 'timm.safetensors')), { heads: 2 }) as VitImport
    const model = build(imp)
    const ref = (io.get('logits') as TorchTensor).data
    expect(maxAbsDiff(logitsOf(model, io.get('input') as TorchTensor), ref)).toBeLessThanOrEqual(1e-4 * maxAbs(ref))
    model.dispose()
  })

  it("recovers PyTorch names from torch.onnx.export's graph and gives PyTorch's logits", () => {
    const tensors = torchTensorsFromOnnx(decodeModel(readFileSync(join(dir, 'model.onnx'))))
    const st = readSafetensors(join(dir, 'torchvision.safetensors'))
    // Every parameter comes back under its name with its values (MatMul weights un-transposed).
    expect([...tensors.keys()].sort()).toEqual([...st.keys()].sort())
    for (const [name, t] of st) expect(maxAbsDiff((tensors.get(name) as TorchTensor).data, t.data), name).toBe(0)
    const model = build(vitFromTorch(tensors, { heads: 2 }) as VitImport)
    const ref = (io.get('logits') as TorchTensor).data
    const diff = maxAbsDiff(logitsOf(model, io.get('input') as TorchTensor), ref)
    console.log(`torchvision ONNX: max |Δlogit| = ${diff.toExponential(2)}`)
    expect(diff).toBeLessThanOrEqual(1e-4 * maxAbs(ref))
    model.dispose()
  })

  it('reads an opset-17 export without constant folding (parameters keep their names, MatMul weights go through Transpose nodes)', () => {
    const decoded = decodeModel(readFileSync(join(dir, 'model-nofold.onnx')))
    expect(decoded.opsets).toEqual([{ domain: '', version: 17 }])
    const tensors = torchTensorsFromOnnx(decoded)
    const st = readSafetensors(join(dir, 'torchvision.safetensors'))
    expect([...tensors.keys()].sort()).toEqual([...st.keys()].sort())
    for (const [name, t] of st) expect(maxAbsDiff((tensors.get(name) as TorchTensor).data, t.data), name).toBe(0)
  })

  it('returns null for a non-ViT and names the first tensor that does not fit', () => {
    const st = readSafetensors(join(dir, 'torchvision.safetensors'))
    expect(
      vitFromTorch(new Map([['conv1.weight', { shape: [64, 3, 7, 7], data: new Float32Array(64 * 147) }]]))
    ).toBeNull()
    // Width 32 is not a multiple of 64: the number of heads must be given.
    expect(() => vitFromTorch(st)).toThrow(
      /hidden width 32 is not a multiple of 64: give the number of attention heads/
    )
    const wrong = new Map(st)
    wrong.set('encoder.layers.encoder_layer_1.mlp.3.weight', { shape: [32, 63], data: new Float32Array(32 * 63) })
    expect(() => vitFromTorch(wrong, { heads: 2 })).toThrow(
      /tensor encoder\.layers\.encoder_layer_1\.mlp\.3\.weight has shape \[32,63\], expected \[32,64\]/
    )
    const missing = new Map(st)
    missing.delete('encoder.layers.encoder_layer_0.ln_2.bias')
    expect(() => vitFromTorch(missing, { heads: 2 })).toThrow(
      /tensor encoder\.layers\.encoder_layer_0\.ln_2\.bias is missing/
    )
    const distilled = new Map(readSafetensors(join(dir, 'timm.safetensors')))
    distilled.set('dist_token', { shape: [1, 1, 32], data: new Float32Array(32) })
    expect(() => vitFromTorch(distilled, { heads: 2 })).toThrow(/tensor dist_token: a distilled DeiT/)
    const extra = new Map(st)
    extra.set('encoder.layers.encoder_layer_0.extra', { shape: [1], data: new Float32Array(1) })
    expect((vitFromTorch(extra, { heads: 2 }) as VitImport).report.skipped).toEqual([
      'encoder.layers.encoder_layer_0.extra: not part of the network'
    ])
  })

  it("one training step gives torch autograd's gradients and torch.optim.AdamW's weights", () => {
    const model = build(vitFromTorch(readSafetensors(join(dir, 'torchvision.safetensors')), { heads: 2 }) as VitImport)
    const input = io.get('input') as TorchTensor
    const y = Int32Array.from((io.get('labels') as TorchTensor).data)
    const params = model.trainableWeights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }))
    const before = tf.memory().numTensors
    const x = tf.tensor(input.data, input.shape)
    const labels = labelTensors('single', y, y.length)
    const { value, grads } = tf.variableGrads(
      () => batchLoss('single', model.apply(x, { training: true }) as tf.Tensor2D, labels),
      params.map((p) => p.variable)
    )
    expect(Math.abs(value.dataSync()[0] - (io.get('loss') as TorchTensor).data[0])).toBeLessThan(1e-5)
    // PyTorch's gradients, mapped to the engine's names and layouts by the same mapping as the weights.
    const torchGrads = new Map<string, TorchTensor>()
    const torchStep = new Map<string, TorchTensor>()
    for (const [k, t] of io) {
      if (k.startsWith('grad.')) torchGrads.set(k.slice(5), t)
      if (k.startsWith('step.')) torchStep.set(k.slice(5), t)
    }
    const refGrads = new Map((vitFromTorch(torchGrads, { heads: 2 }) as VitImport).weights.map((w) => [w.name, w.data]))
    let worst = 0
    let gscale = 0
    for (const p of params) {
      const ref = refGrads.get(p.name) as Float32Array
      worst = Math.max(worst, maxAbsDiff(grads[p.variable.name].dataSync(), ref))
      gscale = Math.max(gscale, maxAbs(ref))
    }
    console.log(
      `gradients: max |Δ| = ${worst.toExponential(2)} over ${params.length} tensors, max |g| = ${gscale.toFixed(3)}`
    )
    expect(gscale).toBeGreaterThan(0.01)
    expect(worst).toBeLessThanOrEqual(1e-4)
    // One AdamW update with those gradients.
    new AdamW({ weightDecay: 1e-4 }).apply(
      params,
      params.map((p) => grads[p.variable.name]),
      1e-3
    )
    const refStep = new Map((vitFromTorch(torchStep, { heads: 2 }) as VitImport).weights.map((w) => [w.name, w.data]))
    // The key projection's bias has a gradient of exactly 0 mathematically (softmax ignores a
    // constant added to every score of a query); both sides hold rounding noise of ~1e-9 there, which
    // Adam's normalisation turns into steps of ±lr. Those entries are only bounded by 2·lr.
    let stepWorst = 0
    let noise = 0
    for (const w of weightsOf(model)) {
      const r = refStep.get(w.name) as Float32Array
      const g = refGrads.get(w.name) as Float32Array
      w.data.forEach((v, i) => {
        if (Math.abs(g[i]) > 1e-6) stepWorst = Math.max(stepWorst, Math.abs(v - r[i]))
        else noise = Math.max(noise, Math.abs(v - r[i]))
      })
    }
    console.log(
      `after one AdamW step: max |Δweight| = ${stepWorst.toExponential(2)} (where |g| > 1e-6; ${noise.toExponential(2)} elsewhere)`
    )
    expect(stepWorst).toBeLessThanOrEqual(1e-5)
    expect(noise).toBeLessThanOrEqual(2e-3 + 1e-6)
    value.dispose()
    tf.dispose(grads)
    x.dispose()
    labels.y.dispose()
    // The optimizer's moments are the only tensors left behind (2 per parameter).
    expect(tf.memory().numTensors).toBe(before + 2 * params.length)
    model.dispose()
  })
})

describe('position embeddings for another input size (torchvision interpolate_embeddings: bicubic, align_corners, class token apart)', () => {
  it("resizes a 4×4 grid to 6×6 as torchvision does, and the 48 px network gives PyTorch's logits", () => {
    const imp = vitFromTorch(readSafetensors(join(dir, 'torchvision.safetensors')), { heads: 2 }) as VitImport
    const pos = imp.weights.find((w) => w.name === 'pos_embed/pos_embedding') as { data: Float32Array }
    const ref = io.get('interp.pos_embedding') as TorchTensor
    expect(ref.shape).toEqual([1, 37, 32])
    const ours = resizePosEmbedding(pos.data, [4, 4], [6, 6], 32)
    const posDiff = maxAbsDiff(ours, ref.data)
    console.log(
      `interpolate_embeddings 4×4 → 6×6: max |Δ| = ${posDiff.toExponential(2)}, scale ${maxAbs(ref.data).toFixed(3)}`
    )
    expect(posDiff).toBeLessThanOrEqual(1e-6 * Math.max(1, maxAbs(ref.data)))
    // The class token's row is copied, not interpolated.
    expect(Array.from(ours.subarray(0, 32))).toEqual(Array.from(pos.data.subarray(0, 32)))
    // Whole network at 48 px, through the start-of-run transfer (which resizes the embeddings).
    const before = tf.memory().numTensors
    const start = transferStart(
      { arch: 'vit', inputShape: [48, 48, 3], numClasses: 5, seed: 0, vit: imp.build.vit },
      imp.weights,
      'torchvision.safetensors',
      true
    )
    expect(start.initialised).toEqual([])
    const refLogits = (io.get('interp.logits') as TorchTensor).data
    const diff = maxAbsDiff(logitsOf(start.model, io.get('interp.input') as TorchTensor), refLogits)
    console.log(`48 px network: max |Δlogit| = ${diff.toExponential(2)}, scale ${maxAbs(refLogits).toFixed(3)}`)
    expect(diff).toBeLessThanOrEqual(1e-4 * maxAbs(refLogits))
    start.model.dispose()
    expect(tf.memory().numTensors).toBe(before)
    // Same size: nothing changes.
    expect(fitPosEmbedding(imp.weights, { shape: [1, 17, 32], grid: [4, 4] })).toEqual(imp.weights)
  })
})

describe('a ViT member exported to ONNX', () => {
  const NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
  const CLASSES = ['a', 'b', 'c', 'd', 'e']
  const cardInput: CardInput = {
    appVersion: '0.1.0',
    modelName: 'vit member',
    datasetName: 'tiny',
    method: { kind: 'member', ingredients: [{ id: 'm1', hyperparameters: { lr: 1e-4, seed: 0 } }] },
    metrics: []
  }

  it("runs in onnxruntime with the app's probabilities (≤ 1e-5) and imports back to the same weights", async () => {
    const imp = vitFromTorch(readSafetensors(join(dir, 'torchvision.safetensors')), { heads: 2 }) as VitImport
    const ckptDir = join(dir, 'member')
    await writeCheckpoint(ckptDir, {
      meta: {
        arch: imp.arch,
        archOptions: { vit: imp.build.vit },
        inputShape: [32, 32, 3],
        classes: CLASSES,
        task: 'single',
        output: 'logits',
        normalization: NORM
      },
      weights: imp.weights
    })
    const before = tf.memory().numTensors
    const res = await exportModel({
      checkpointDir: ckptDir,
      format: 'onnx',
      outFile: join(dir, 'out', 'vit.onnx'),
      card: cardInput
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(res.card.architecture).toEqual({
      name: 'vit',
      options: { vit: { patch: 8, hidden: 32, layers: 2, heads: 2, mlp: 64 } }
    })
    const bytes = readFileSync(res.file)
    const decoded = decodeModel(bytes)
    expect(decoded.opsets).toEqual([{ domain: '', version: 13 }])
    expect(new Set(decoded.nodes.map((n) => n.op_type))).toEqual(
      new Set([
        'Transpose',
        'Conv',
        'Reshape',
        'Shape',
        'Slice',
        'Concat',
        'Expand',
        'Add',
        'ReduceMean',
        'Sub',
        'Mul',
        'Sqrt',
        'Div',
        'MatMul',
        'Softmax',
        'Erf',
        'Sum',
        'Gemm',
        'Identity'
      ])
    )
    // 16 seeded uint8 images, preprocessed by the card as a deployment would.
    const n = 16
    const r = rng(3)
    const x = Uint8Array.from({ length: n * 32 * 32 * 3 }, () => Math.floor(r() * 256))
    const { scale, mean, std } = res.card.preprocessing
    const pre = Float32Array.from(x, (v, i) => (v * scale - mean[i % 3]) / std[i % 3])
    const onnx = await runOnnx(bytes, pre, [n, 32, 32, 3])
    expect(onnx.dims).toEqual([n, 5])
    const model = await loadModel(ckptDir)
    const app = (
      await predictBatches(model, [{ x, n }], { task: 'single', imageShape: [32, 32, 3], normalization: NORM })
    ).probs
    model.dispose()
    const diff = maxAbsDiff(onnx.data, app)
    console.log(
      `ONNX export: max |Δp| = ${diff.toExponential(2)}, p range ${Math.min(...app).toFixed(3)}..${Math.max(...app).toFixed(3)}`
    )
    expect(Math.max(...app) - Math.min(...app)).toBeGreaterThan(0.3)
    expect(diff).toBeLessThanOrEqual(1e-5)
    // Back into the app: the exact weights.
    const back = await importExportedModel(res.file)
    const original = await readCheckpoint(ckptDir)
    expect(back.checkpoint.meta.archOptions).toEqual({ vit: { patch: 8, hidden: 32, layers: 2, heads: 2, mlp: 64 } })
    expect(back.checkpoint.weights.map((w) => w.name)).toEqual(original.weights.map((w) => w.name))
    back.checkpoint.weights.forEach((w, i) => expect(maxAbsDiff(w.data, original.weights[i].data)).toBe(0))
  })

  it('exports to TF.js files that tf.loadLayersModel reads (custom layers registered)', async () => {
    const ckptDir = join(dir, 'member')
    const res = await exportModel({
      checkpointDir: ckptDir,
      format: 'tfjs',
      outFile: join(dir, 'out', 'vit.json'),
      card: cardInput
    })
    const loaded = await tf.loadLayersModel(tfjsFileHandler(res.file))
    const input = io.get('input') as TorchTensor
    const model = await loadModel(ckptDir)
    const [a, b] = tf.tidy(() => {
      const t = tf.tensor(input.data, input.shape)
      return [(loaded.predict(t) as tf.Tensor).dataSync(), tf.softmax(model.predict(t) as tf.Tensor).dataSync()]
    })
    expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-6)
    loaded.dispose()
    model.dispose()
  })
})
