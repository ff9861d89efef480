// Bad input at the edges: an .npz with an extra string array imports (the array is named in the
// report); a dataset whose import failed, a run still training and a damaged member cannot be
// picked by a job: one-sentence refusal, exit 1, and no job row.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { importDataset } from '../../../src/main/engine/data/import'
import { errorText } from '../../../src/shared/errors'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { SYSTEM_PYTHON } from '../../fixtures/data/shared'
import { CLI, ROOT } from '../../fixtures/process'

const tmp = mkdtempSync(join(tmpdir(), 'ff-notready-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))
const run = promisify(execFile)

describe('bad input', () => {
  it('imports an .npz with an extra array of strings, reporting the array it skipped', async () => {
    const npz = join(tmp, 'extra.npz')
    // NumPy writes the archive (an independent writer), with a names array of dtype <U9.
    execFileSync(SYSTEM_PYTHON, [
      '-c',
      `
import numpy as np
rng = np.random.default_rng(0)
d = {}
for s, n in (('train', 12), ('val', 4), ('test', 6)):
    d[s + '_images'] = rng.integers(0, 256, size=(n, 8, 8), dtype=np.uint8)
    d[s + '_labels'] = (np.arange(n) % 3).reshape(n, 1).astype(np.uint8)
d['names'] = np.array(['nodule', 'effusion', 'normal'], dtype='<U9')
np.savez_compressed(${JSON.stringify(npz)}, **d)
`
    ])
    const r = await importDataset({ input: npz, size: 8 }, { outDir: join(tmp, 'ds') })
    expect(r.imported).toBe(22)
    expect(r.meta.counts).toEqual({ train: 12, val: 4, test: 6 })
    expect(r.errors).toEqual([
      { file: 'extra.npz/names.npy', reason: expect.stringMatching(/^array skipped: only train_images\/train_labels/) }
    ])
  })

  it('an unreadable label row is skipped, not the whole split', async () => {
    const npz = join(tmp, 'badrow.npz')
    execFileSync(SYSTEM_PYTHON, [
      '-c',
      `
import numpy as np
x = np.zeros((5, 8, 8), dtype=np.uint8)
y = np.array([0, 1, -1, 1, 0], dtype=np.int64)
np.savez(${JSON.stringify(npz)}, train_images=x, train_labels=y, test_images=x[:2], test_labels=np.array([0, 1]), extra=np.array([1.5]))
`
    ])
    const r = await importDataset({ input: npz, size: 8 }, { outDir: join(tmp, 'ds2') })
    expect(r.imported).toBe(6)
    expect(r.errors.map((e) => e.file)).toEqual(['badrow.npz/extra.npy', 'train_images[2]'])
    expect(r.errors[1].reason).toBe('its label train_labels[2] = -1 is not a class index (an integer ≥ 0)')
  })

  it('idx: a file pair that cannot be used is skipped and named; the other pairs are imported', async () => {
    const dir = join(tmp, 'idx')
    execFileSync(SYSTEM_PYTHON, [
      '-c',
      `
import os, struct, numpy as np
d = ${JSON.stringify(dir)}
os.makedirs(d, exist_ok=True)
def write(name, magic, arr):
    with open(os.path.join(d, name), 'wb') as f:
        f.write(struct.pack('>I', magic) + b''.join(struct.pack('>I', n) for n in arr.shape) + arr.astype(np.uint8).tobytes())
rng = np.random.default_rng(1)
write('train-images-idx3-ubyte', 0x803, rng.integers(0, 256, (10, 8, 8)))
write('train-labels-idx1-ubyte', 0x801, np.arange(10) % 2)
write('t10k-images-idx3-ubyte', 0x803, rng.integers(0, 256, (4, 8, 8)))
write('extra-images-idx3-ubyte', 0x803, rng.integers(0, 256, (3, 8, 8)))
write('extra-labels-idx1-ubyte', 0x801, np.arange(2))
`
    ])
    const r = await importDataset({ input: dir, format: 'idx', size: 8 }, { outDir: join(tmp, 'ds3') })
    expect(r.imported).toBe(10)
    expect(r.errors).toEqual([
      { file: 'extra-images-idx3-ubyte', reason: 'file skipped: 3 images but 2 labels in extra-labels-idx1-ubyte' },
      {
        file: 't10k-images-idx3-ubyte',
        reason: expect.stringMatching(
          /^file skipped: its labels file t10k-labels-idx1-ubyte is missing or unreadable \(/
        )
      }
    ])
  })

  it('errorText turns anything thrown into a message, never [object Object]', () => {
    expect(errorText({ exception: 'dicomParser.readPart10Header: DICM prefix not found', dataSet: {} })).toBe(
      'dicomParser.readPart10Header: DICM prefix not found'
    )
    expect(errorText({ code: 'x', message: 'it broke' })).toBe('it broke')
    expect(errorText(new Error('plain'))).toBe('plain')
    expect(errorText({ a: 1 })).toBe('{"a":1}')
    expect(errorText(undefined)).toBe('unknown error')
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(errorText(circular)).not.toContain('[object Object]')
  })
})

describe('what is not ready cannot be picked', () => {
  const ws = join(tmp, 'ws')
  const setup = (): void => {
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    try {
      store.datasets.create({
        id: 'ds_ok',
        name: 'ok',
        format: 'npz',
        task: 'single',
        status: 'ready',
        classes: ['a', 'b']
      })
      store.datasets.create({ id: 'ds_bad', name: 'broken', format: 'npz', task: 'single', status: 'failed' })
      store.datasets.update('ds_bad', { error: 'no image could be imported' })
      store.runs.create({ id: 'run_ok', name: 'done run', datasetId: 'ds_ok', kind: 'fgg', config: {} })
      store.runs.setStatus('run_ok', 'done')
      store.runs.create({ id: 'run_bad', name: 'failed run', datasetId: 'ds_ok', kind: 'fgg', config: {} })
      store.runs.setStatus('run_bad', 'failed')
      store.runs.createMember({ id: 'mem_bad', runId: 'run_ok', name: 'm', hyperparams: {} })
      store.runs.updateMember('mem_bad', { status: 'failed', checkpointPath: 'runs/run_ok/members/mem_bad' })
    } finally {
      store.close()
    }
  }
  const cli = async (...args: string[]): Promise<{ code: number; stderr: string; stdout: string }> => {
    try {
      const r = await run(process.execPath, [CLI, '--workspace', ws, '--backend', 'cpu', ...args], { cwd: ROOT })
      return { code: 0, stderr: r.stderr, stdout: r.stdout }
    } catch (e) {
      const x = e as { code: number; stderr: string; stdout: string }
      return { code: x.code, stderr: x.stderr, stdout: x.stdout }
    }
  }
  const jobCount = (): number => {
    const store = Store.open(Workspace.open(ws).dbPath)
    try {
      return store.jobs.count()
    } finally {
      store.close()
    }
  }

  it('fuse --ood FAILED_DATASET: one-line refusal, exit 1, no job', async () => {
    setup()
    const r = await cli('fuse', '--run', 'run_ok', '--ood', 'ds_bad')
    expect(r.code).toBe(1)
    expect(r.stderr.trim()).toBe(
      'error: dataset ds_bad (broken) is not ready: its import failed (no image could be imported); import it again'
    )
    expect(r.stdout).toBe('')
    expect(jobCount()).toBe(0)
  }, 60_000)

  it('a failed run, a failed dataset for fission, and a failed member for export are refused the same way', async () => {
    const fuse = await cli('fuse', '--run', 'run_bad')
    expect(fuse.code).toBe(1)
    expect(fuse.stderr.trim()).toMatch(
      /^error: run run_bad \(failed run\) is not ready: its training failed; resume it/
    )
    const fission = await cli('fission', '--dataset', 'ds_bad', '--plan', 'fgg', '--lrs', '1e-3', '--epochs', '1')
    expect(fission.code).toBe(1)
    expect(fission.stderr.trim()).toMatch(/^error: dataset ds_bad \(broken\) is not ready: its import failed/)
    const exp = await cli('export', '--model', 'mem_bad', '--format', 'onnx', '--out', join(tmp, 'x.onnx'))
    expect(exp.code).toBe(1)
    expect(exp.stderr.trim()).toMatch(/^error: member mem_bad \(m\) is not ready: its status is failed/)
    expect(jobCount()).toBe(0)
  }, 90_000)
})
