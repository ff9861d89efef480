// `models import`, `models`, `predict` end to end through the CLI, and bad weight files (truncated,
// wrong shape, not a model) refused with a sentence naming the file, leaving the workspace as it
// was. The network is torchvision's mobilenet_v2 built from a seed (fixtures/pretrained/make_nets.py,
// Debian's python3-torch) at 32 px, so its logits are PyTorch's own.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import sharp from 'sharp'
import { unzipSync } from 'fflate'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseNpy } from '../../../src/main/engine/data/npy'
import { importPretrained, listPretrained, pretrainedDir } from '../../../src/main/engine/models/pretrained/library'
import { initBackend } from '../../../src/main/engine/compute/index'
import { importDataset } from '../../../src/main/engine/data/import'
import { readCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { buildPlan, PLAN_DEFAULTS } from '../../../src/main/engine/fission/plans'
import { runPlan } from '../../../src/main/engine/fission/run'
import { cliJson } from '../../fixtures/process'

const PYTHON = '/usr/bin/python3'
const SIZE = 32
const N = 3
let work = ''
let ws = ''
let ready = false

const cli = (...args: string[]): Promise<unknown> => cliJson(ws, 'wasm', args)

function files(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const visit = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(join(d, e.name))
      else out.push(relative(dir, join(d, e.name)))
    }
  }
  visit(dir)
  return out.sort()
}

beforeAll(() => {
  let torch = false
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torchvision'])
    torch = true
  } catch {
    /* reported below */
  }
  if (!torch) {
    if (process.env.CI === 'true') throw new Error('python3-torch and python3-torchvision are required (CI=true)')
    return
  }
  work = mkdtempSync(join(tmpdir(), 'ff-pretrained-cli-'))
  ws = join(work, 'ws')
  execFileSync(
    PYTHON,
    [
      new URL('../../fixtures/pretrained/make_nets.py', import.meta.url).pathname,
      work,
      String(SIZE),
      String(N),
      'mobilenet_v2'
    ],
    { stdio: 'pipe', env: { ...process.env, OMP_NUM_THREADS: '1' } }
  )
  ready = true
}, 120_000)

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('models import, models, predict (CLI)', () => {
  let id = ''
  it('imports a safetensors file: architecture recognised, head kept, per-tensor report, listed with file name and sha256', async (ctx) => {
    if (!ready) return ctx.skip()
    const r = (await cli(
      'models',
      'import',
      join(work, 'mobilenet_v2.safetensors'),
      '--size',
      String(SIZE),
      '--name',
      'mnv2'
    )) as {
      model: {
        id: string
        name: string
        arch: string
        classes: number
        preprocessing: { size: number[]; mean: number[]; std: number[] }
        origin: { file: string; sha256: string }
        tensors: { matched: string[]; reshaped: string[]; skipped: string[] }
      }
    }
    id = r.model.id
    expect(r.model.arch).toBe('mobilenetv2')
    expect(r.model.classes).toBe(7)
    expect(r.model.preprocessing).toMatchObject({
      size: [SIZE, SIZE],
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225]
    })
    // 52 conv weights + the linear weight reshaped; BN vectors and the bias matched; num_batches_tracked skipped.
    expect(r.model.tensors.reshaped.length).toBe(53)
    expect(r.model.tensors.matched.length).toBe(52 * 4 + 1)
    expect(r.model.tensors.skipped.length).toBe(52)
    expect(r.model.tensors.reshaped).toContain(
      'features.1.conv.0.0.weight → block1_0_dw_conv/depthwise_kernel (depthwise C,1,kh,kw → kh,kw,C,1)'
    )
    const list = (await cli('models')) as {
      id: string
      name: string
      arch: string
      origin: { file: string; sha256: string }
    }[]
    expect(list.map((m) => [m.id, m.name, m.arch, m.origin.file])).toEqual([
      [id, 'mnv2', 'mobilenetv2', 'mobilenet_v2.safetensors']
    ])
    expect(list[0].origin.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(work, 'mobilenet_v2.safetensors')))
        .digest('hex')
    )
    expect(JSON.stringify(list)).not.toContain(work)
  }, 120_000)

  it("predict --logits on an .npz gives PyTorch's logits; on an image folder, bad files are listed and the rest predicted", async (ctx) => {
    if (!ready) return ctx.skip()
    const out = join(work, 'logits.npy')
    const r = (await cli('predict', '--model', id, '--input', join(work, 'images.npz'), '--out', out, '--logits')) as {
      images: number
      outputs: number
      kind: string
    }
    expect(r).toMatchObject({ images: N, outputs: 7, kind: 'logits' })
    const got = parseNpy(new Uint8Array(readFileSync(out)))
    const ref = parseNpy(new Uint8Array(readFileSync(join(work, 'mobilenet_v2.logits.npy'))))
    expect(got.shape).toEqual([N, 7])
    let scale = 0
    let diff = 0
    for (let i = 0; i < ref.data.length; i++) {
      scale = Math.max(scale, Math.abs(ref.data[i]))
      diff = Math.max(diff, Math.abs(got.data[i] - ref.data[i]))
    }
    expect(diff).toBeLessThanOrEqual(1e-4 * scale)

    // The same images as PNG files (lossless) plus a broken one: probabilities per file, in CSV.
    const folder = join(work, 'folder')
    mkdirSync(join(folder, 'sub'), { recursive: true })
    const images = parseNpy(unzipSync(new Uint8Array(readFileSync(join(work, 'images.npz'))))['images.npy'])
    const per = SIZE * SIZE * 3
    for (let i = 0; i < N; i++) {
      await sharp(Buffer.from((images.data as Uint8Array).subarray(i * per, (i + 1) * per)), {
        raw: { width: SIZE, height: SIZE, channels: 3 }
      })
        .png()
        .toFile(join(folder, 'sub', `img${i}.png`))
    }
    writeFileSync(join(folder, 'broken.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]))
    const csvOut = join(work, 'probs.csv')
    const c = (await cli('predict', '--model', id, '--input', folder, '--out', csvOut)) as {
      images: number
      kind: string
      failed: number
      errors: { file: string; reason: string }[]
    }
    expect(c).toMatchObject({ images: N, kind: 'softmax', failed: 1 })
    expect(c.errors[0].file).toBe('broken.png')
    const lines = readFileSync(csvOut, 'utf8').trim().split('\n')
    expect(lines[0]).toBe('image,0,1,2,3,4,5,6')
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['sub/img0.png', 'sub/img1.png', 'sub/img2.png'])
    for (let i = 0; i < N; i++) {
      const p = lines[i + 1].split(',').slice(1).map(Number)
      const z = Array.from(ref.data.subarray(i * 7, (i + 1) * 7))
      const m = Math.max(...z)
      const e = z.map((v) => Math.exp(v - m))
      const s = e.reduce((a, b) => a + b, 0)
      p.forEach((v, k) => expect(v).toBeCloseTo(e[k] / s, 5))
    }
  }, 180_000)

  it('a truncated file is refused through the CLI with a sentence naming it', async (ctx) => {
    if (!ready) return ctx.skip()
    const bytes = readFileSync(join(work, 'mobilenet_v2.onnx'))
    writeFileSync(join(work, 'cut.onnx'), bytes.subarray(0, bytes.length >> 1))
    const before = files(ws)
    const err = await cli('models', 'import', join(work, 'cut.onnx')).then(
      () => null,
      (e: { stderr: string }) => e
    )
    expect(err).not.toBeNull()
    expect(err!.stderr).toMatch(/cut\.onnx: not a readable ONNX file \(truncated or another format\)/)
    expect(err!.stderr).not.toContain(work)
    expect(files(ws).filter((f) => !f.startsWith('fissionfusion.db'))).toEqual(
      before.filter((f) => !f.startsWith('fissionfusion.db'))
    )
  }, 120_000)
})

describe('bad weight files leave the workspace unchanged', () => {
  const cases: [string, (st: Buffer, onnx: Buffer) => Buffer, RegExp][] = [
    [
      'truncated.safetensors',
      (st) => st.subarray(0, st.length - 1000),
      /truncated\.safetensors: tensor .* needs bytes .* \(truncated\)/
    ],
    ['truncated.onnx', (_s, onnx) => onnx.subarray(0, 5000), /truncated\.onnx: not a readable ONNX file/],
    [
      'wrongshape.safetensors',
      (st) => {
        // features.2.conv.0.0.weight [96, 16, 1, 1] declared [16, 96, 1, 1]: same bytes, wrong shape.
        const n = Number(st.readBigUInt64LE(0))
        const header = JSON.parse(st.subarray(8, 8 + n).toString('utf8'))
        header['features.2.conv.0.0.weight'].shape = [16, 96, 1, 1]
        let text = JSON.stringify(header)
        text += ' '.repeat(Math.max(0, n - text.length))
        expect(text.length).toBe(n)
        return Buffer.concat([st.subarray(0, 8), Buffer.from(text), st.subarray(8 + n)])
      },
      /wrongshape\.safetensors: tensor features\.2\.conv\.0\.0\.weight does not match mobilenetv2: shape \[1,1,96,16\] in the engine's layout where \[1,1,16,96\] is expected/
    ],
    [
      'notes.safetensors',
      () => Buffer.from('these are my notes, not a model\n'),
      /notes\.safetensors: .*not a safetensors file/
    ],
    [
      'photo.onnx',
      () => Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
      /photo\.onnx: not a readable ONNX file/
    ]
  ]
  for (const [name, make, message] of cases) {
    it(`${name}: a clear error, nothing written`, async (ctx) => {
      if (!ready) return ctx.skip()
      const dir = join(work, 'ws-bad')
      mkdirSync(dir, { recursive: true })
      const before = files(dir)
      const listed = await listPretrained(dir)
      const path = join(work, name)
      writeFileSync(
        path,
        make(readFileSync(join(work, 'mobilenet_v2.safetensors')), readFileSync(join(work, 'mobilenet_v2.onnx')))
      )
      const err = await importPretrained(dir, path, { size: SIZE }).then(
        () => null,
        (e: Error) => e
      )
      expect(err?.message).toMatch(message)
      expect(err?.message).not.toContain(work)
      expect(files(dir)).toEqual(before)
      expect(await listPretrained(dir)).toEqual(listed)
    }, 60_000)
  }
})

describe('a run from an imported network (linear probe, then fine-tuning)', () => {
  it("keeps the backbone, replaces the head for the dataset's classes, and trains every member with the network's preprocessing", async (ctx) => {
    if (!ready) return ctx.skip()
    await initBackend()
    const dir = join(work, 'ws-run')
    const { entry } = await importPretrained(dir, join(work, 'mobilenet_v2.safetensors'), { size: SIZE })
    const data = execFileSync(PYTHON, [
      '-c',
      [
        'import numpy as np, sys',
        'r = np.random.default_rng(1)',
        'd = {}',
        "for s, n in [('train', 16), ('val', 8), ('test', 8)]:",
        `    d[s + '_images'] = r.integers(0, 256, (n, ${SIZE}, ${SIZE}, 3), dtype=np.uint8); d[s + '_labels'] = r.integers(0, 3, (n, 1))`,
        'np.savez(sys.argv[1], **d)'
      ].join('\n'),
      join(work, 'tiny.npz')
    ])
    expect(data.length).toBe(0)
    const datasetDir = join(dir, 'datasets', 'tiny')
    await importDataset(
      { input: join(work, 'tiny.npz'), name: 'tiny', format: 'npz', size: SIZE },
      { outDir: datasetDir }
    )
    const plan = buildPlan({
      ...PLAN_DEFAULTS,
      kind: 'grid',
      lrs: [1e-3],
      seeds: [0],
      augs: ['none'],
      epochs: 1,
      lpEpochs: 1,
      batchSize: 8
    })
    const source = await readCheckpoint(pretrainedDir(dir, entry.id))
    const setup = {
      runDir: join(dir, 'runs', 'r1'),
      dataset: datasetDir,
      arch: entry.arch,
      archOptions: source.meta.archOptions,
      start: { kind: 'checkpoint' as const, dir: pretrainedDir(dir, entry.id) },
      plan
    }
    const outcome = await runPlan(setup)
    expect(outcome.status).toBe('done')
    const start = await readCheckpoint(join(setup.runDir, 'start'))
    expect(start.meta.classes).toEqual(['0', '1', '2'])
    expect(start.meta.normalization).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] })
    const byName = new Map(source.weights.map((w) => [w.name, w]))
    for (const w of start.weights) {
      if (w.name.startsWith('head/')) expect(w.shape).toEqual(w.name === 'head/kernel' ? [1280, 3] : [3])
      else expect(Array.from(w.data)).toEqual(Array.from(byName.get(w.name)!.data))
    }
    const member = await readCheckpoint(join(setup.runDir, plan.units.at(-1)!.members[0].checkpoint))
    expect(member.meta.normalization).toEqual(start.meta.normalization)
    expect(member.meta.archOptions).toEqual({ stem: 'imagenet', widthMultiplier: 1 })
    // Fine-tuning changed the backbone (the linear probe alone would not).
    const stem = member.weights.find((w) => w.name === 'stem_conv/kernel')!
    expect(Array.from(stem.data)).not.toEqual(Array.from(byName.get('stem_conv/kernel')!.data))
  }, 180_000)
})
