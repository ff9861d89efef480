// Import of pretrained weights against PyTorch: torchvision resnet18 / resnet50 / densenet121 /
// mobilenet_v2 built from seeds with randomised BatchNorm statistics (fixtures/pretrained/make_nets.py,
// run here with Debian's python3-torch 1.13 into a temp folder), written as safetensors and as ONNX
// twice (the default eval export, which folds BatchNorm into the convs, and a PRESERVE / no-folding
// export). After import, the engine's logits on random 64 px images must equal PyTorch's within
// 1e-4 of their scale; one training step of an imported ResNet-18 must give PyTorch's gradients.
import * as tf from '@tensorflow/tfjs'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { unzipSync } from 'fflate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initBackend } from '../../../../src/main/engine/compute/index'
import { parseNpy } from '../../../../src/main/engine/data/npy'
import { modelOf, readPretrained } from '../../../../src/main/engine/models/pretrained/index'
import { predictImages } from '../../../../src/main/engine/models/pretrained/predict'
import { readSafetensors } from '../../../../src/main/engine/models/pretrained/safetensors'
import { resnetFromTorch } from '../../../../src/main/engine/models/pretrained/resnet'

const PYTHON = '/usr/bin/python3'
const SIZE = 64
const N = 4
const NETS = ['resnet18', 'resnet50', 'densenet121', 'mobilenet_v2']
const FORMATS = ['safetensors', 'onnx', 'preserve.onnx']
const ARCH: Record<string, string> = {
  resnet18: 'resnet18',
  resnet50: 'resnet50',
  densenet121: 'densenet121',
  mobilenet_v2: 'mobilenetv2'
}

let dir = ''
let ready = false

function npz(path: string): Record<string, { shape: number[]; data: Uint8Array | Float64Array }> {
  const files = unzipSync(new Uint8Array(readFileSync(path)))
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k.replace(/\.npy$/, ''), parseNpy(v)]))
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]))
  return m
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

beforeAll(async () => {
  await initBackend()
  const torchThere =
    existsSync(PYTHON) &&
    (() => {
      try {
        execFileSync(PYTHON, ['-c', 'import torch, torchvision'])
        return true
      } catch {
        return false
      }
    })()
  if (!torchThere) {
    if (process.env.CI === 'true') throw new Error('python3-torch and python3-torchvision are required (CI=true)')
    return
  }
  dir = mkdtempSync(join(tmpdir(), 'ff-pretrained-'))
  execFileSync(
    PYTHON,
    [
      new URL('../../../fixtures/pretrained/make_nets.py', import.meta.url).pathname,
      dir,
      String(SIZE),
      String(N),
      NETS.join(','),
      '--grad'
    ],
    { stdio: 'pipe', env: { ...process.env, OMP_NUM_THREADS: '1' } }
  )
  ready = true
}, 240_000)

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('pretrained import matches PyTorch', () => {
  for (const net of NETS) {
    // The PRESERVE / no-folding export keeps PyTorch's names: checked on two nets to keep the file short.
    for (const format of FORMATS.filter((f) => f !== 'preserve.onnx' || net === 'resnet18' || net === 'densenet121')) {
      it(`${net} from ${format}: same logits`, async (ctx) => {
        if (!ready) return ctx.skip()
        const before = tf.memory().numTensors
        const imp = await readPretrained(join(dir, `${net}.${format}`), { size: SIZE })
        expect(tf.memory().numTensors).toBe(before)
        expect(imp.arch).toBe(ARCH[net])
        expect(imp.build.numClasses).toBe(7)
        expect(imp.origin.file).toBe(`${net}.${format}`)
        if (format === 'onnx') expect(imp.report.reshaped.some((e) => e.includes('BatchNorm folded'))).toBe(true)
        if (format === 'safetensors')
          expect(imp.report.skipped.some((e) => e.includes('num_batches_tracked'))).toBe(true)
        const images = npz(join(dir, 'images.npz')).images
        const ref = parseNpy(new Uint8Array(readFileSync(join(dir, `${net}.logits.npy`))))
        const model = modelOf(imp)
        const got = await predictImages(model, images.data as Uint8Array, N, [SIZE, SIZE, 3], {
          normalization: imp.preprocessing,
          task: 'single',
          logits: true
        })
        model.dispose()
        expect(tf.memory().numTensors).toBe(before)
        const scale = maxAbs(ref.data)
        expect(scale).toBeGreaterThan(0)
        expect(maxDiff(got, ref.data)).toBeLessThanOrEqual(1e-4 * scale)
      }, 120_000)
    }
  }
})

describe('training from an imported ResNet-18', () => {
  it("one step on a fixed batch (BatchNorm in training mode) gives PyTorch's gradients within 1e-4", async (ctx) => {
    if (!ready) return ctx.skip()
    const imp = await readPretrained(join(dir, 'grad.resnet18.safetensors'), { size: SIZE })
    const ref = resnetFromTorch(
      readSafetensors(new Uint8Array(readFileSync(join(dir, 'grad.values.safetensors'))), 'grad')!.tensors
    )!
    const refByName = new Map(ref.weights.map((w) => [w.name, w]))
    const batch = npz(join(dir, 'grad.npz'))
    const before = tf.memory().numTensors
    const model = modelOf(imp)
    const { toModelInput } = await import('../../../../src/main/engine/evaluate/predict')
    const n = batch.labels.shape[0]
    const x = toModelInput(
      model,
      { x: batch.images.data as Uint8Array, n },
      { imageShape: [SIZE, SIZE, 3], normalization: imp.preprocessing }
    )
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(batch.labels.data), 'int32'), 7))
    const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable)
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      trainable
    )
    const loss = (await value.data())[0]
    expect(loss).toBeCloseTo(JSON.parse(readFileSync(join(dir, 'grad.json'), 'utf8')).loss, 4)
    let worst = 0
    let checked = 0
    for (const w of model.trainableWeights) {
      const g = grads[(w.read() as tf.Variable).name]
      const r = refByName.get(w.originalName)!
      const got = await g.data()
      const scale = Math.max(maxAbs(r.data), 1e-8)
      worst = Math.max(worst, maxDiff(got, r.data) / scale)
      checked++
    }
    expect(checked).toBe(62)
    expect(worst).toBeLessThanOrEqual(1e-4)
    tf.dispose([x, y, value, ...Object.values(grads)])
    model.dispose()
    expect(tf.memory().numTensors).toBe(before)
  }, 120_000)
})
