/**
 * `fissionfusion pipeline --data PATH`: the demo's pipeline on a user's dataset (RetinaMNIST from
 * ../shared/data), scaled down to a CI budget with the command's own flags: the import, the
 * shared start, both plans, every soup and the ONNX export, read back with onnxruntime.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it } from 'vitest'
import { cliGroup } from '../../fixtures/process'
import { HAVE_SHARED_DATA, SHARED_DATA } from '../../fixtures/data/shared'

const ws = mkdtempSync(join(tmpdir(), 'ff-pipeline-data-'))
afterAll(() => rmSync(ws, { recursive: true, force: true }))

describe.skipIf(!HAVE_SHARED_DATA)('fissionfusion pipeline --data (RetinaMNIST)', () => {
  it('imports the file, trains grid + FGG from a shared start, fuses with every method and exports one ONNX model', async () => {
    const retina = join(SHARED_DATA, 'medmnist/retinamnist.npz')
    const r = await cliGroup([
      'pipeline',
      '--data',
      retina,
      '--name',
      'retina',
      '--workspace',
      ws,
      '--json',
      '--width',
      '0.25',
      '--pretrain-epochs',
      '1',
      '--lrs',
      '1e-3',
      '--seeds',
      '0',
      '--augs',
      'minimal',
      '--epochs',
      '1',
      '--fgg-epochs',
      '1',
      '--batch-size',
      '64',
      '--resamples',
      '200',
      '--no-corruptions',
      '--metric',
      'kappa'
    ]).done
    if (r.code !== 0) throw new Error(`pipeline exited ${r.code}: ${r.stderr.slice(-2000)}`)
    const out = JSON.parse(r.stdout) as {
      metric: string
      datasets: { source: string; ood: string[] }
      members: { plan: string; status: string; val: number | null }[]
      methods: { plan: string; method: string; test: Record<string, { value: number; ci: [number, number] }> }[]
      best: { modelId: string }
      export: { file: string; card: { preprocessing: { size: [number, number]; channels: number } } }
    }
    expect(out.metric).toBe('kappa')
    expect(out.datasets.ood).toEqual([])
    // pretrain + 1 grid member (1 rate × 1 seed × 1 augmentation) + FGG base and its one cyclic snapshot
    expect(out.members.map((m) => m.plan)).toEqual(['pretrain', 'grid', 'fgg', 'fgg'])
    expect(out.members.every((m) => m.status === 'done' && m.val !== null)).toBe(true)
    expect(out.methods).toHaveLength(16)
    for (const m of out.methods) {
      const k = m.test.kappa
      expect(k.value).toBeGreaterThan(-1)
      expect(k.ci[0]).toBeLessThanOrEqual(k.value)
      expect(k.ci[1]).toBeGreaterThanOrEqual(k.value)
    }
    // The exported file is the source dataset's model: RetinaMNIST's 5 grades at 28 px.
    expect(existsSync(out.export.file)).toBe(true)
    expect(out.export.file.startsWith(ws)).toBe(true)
    expect(out.export.card.preprocessing.size).toEqual([28, 28])
    const session = await ort.InferenceSession.create(out.export.file)
    try {
      const c = out.export.card.preprocessing.channels
      const res = await session.run({
        [session.inputNames[0]]: new ort.Tensor('float32', new Float32Array(2 * 28 * 28 * c), [2, 28, 28, c])
      })
      expect(res[session.outputNames[0]].dims).toEqual([2, 5])
    } finally {
      await session.release()
    }
  }, 900_000)
})
