// Faults as a user meets them: a member whose weights file has one flipped byte is reported
// damaged and left out of the fusion (through the CLI); writes that hit a full disk leave the
// previous file and say what to do. The fission job with a full disk: faults-enospc.test.ts.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import sharp from 'sharp'
import { importDataset } from '../../../src/main/engine/data/import'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readCheckpoint, writeCheckpoint } from '../../../src/main/engine/models/checkpoint'
import { writeFileAtomic } from '../../../src/main/engine/io/atomic'
import { Store } from '../../../src/main/store'
import { Workspace } from '../../../src/main/workspace'
import { recordCheckpoint } from '../../../src/main/host/integrity'
import { cliGroup, cliJson } from '../../fixtures/process'
import { writeDataset, writeMembers } from '../engine/fusion/tiny'

const dirs: string[] = []
const temp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('the atomic-write helper', () => {
  it('an injected ENOSPC leaves the previous file and no temporary file, with a what-to-do sentence', async () => {
    const dir = temp('ff-atomic-')
    const file = join(dir, 'a.bin')
    await writeFileAtomic(file, [new Uint8Array([1, 2, 3])], 'export')
    process.env.FF_FAULT = 'enospc@export:2,eio@checkpoint:1'
    try {
      await expect(writeFileAtomic(file, [new Uint8Array(3 << 20)], 'export')).rejects.toThrow(
        /^disk full: could not write the export .*a\.bin; free at least 4 MB on the workspace's disk \(\d+ MB free now\), then `job resume`$/
      )
      await expect(
        writeCheckpoint(join(dir, 'ck'), {
          meta: {
            arch: 'smallcnn',
            archOptions: {},
            inputShape: [8, 8, 1],
            classes: ['a'],
            task: 'single',
            output: 'logits'
          },
          weights: []
        })
      ).rejects.toThrow(
        /^disk error: could not write the checkpoint .*ck\/weights\.bin \(EIO: input\/output error\); check the disk/
      )
    } finally {
      delete process.env.FF_FAULT
    }
    expect([...readFileSync(file)]).toEqual([1, 2, 3])
    expect(readdirSync(dir)).toEqual(['a.bin'])
  })

  it('ENOSPC while writing a dataset cache chunk: the import fails with the sentence and leaves no partial cache', async () => {
    const dir = temp('ff-cache-fault-')
    for (const c of ['a', 'b']) {
      mkdirSync(join(dir, 'in', c), { recursive: true })
      for (let i = 0; i < 4; i++)
        writeFileSync(
          join(dir, 'in', c, `${i}.png`),
          await sharp({
            create: { width: 16, height: 16, channels: 3, background: { r: 60 * i, g: c === 'a' ? 0 : 200, b: 9 } }
          })
            .png()
            .toBuffer()
        )
    }
    process.env.FF_FAULT = 'enospc@cache:1'
    try {
      await expect(importDataset({ input: join(dir, 'in'), size: 16 }, { outDir: join(dir, 'ds') })).rejects.toThrow(
        /^disk full: could not write the dataset cache chunk .*; free at least 1 MB on the workspace's disk \(\d+ MB free now\), then `job resume`$/
      )
    } finally {
      delete process.env.FF_FAULT
    }
    expect(readdirSync(dir)).toEqual(['in'])
  })
})

describe('damaged weights', () => {
  it('readCheckpoint checks the SHA-256 recorded in model.json: one flipped bit is refused with the file named', async () => {
    const dir = join(temp('ff-ck-'), 'runs', 'r', 'members', 'm')
    const w = Float32Array.from({ length: 300 }, (_, i) => Math.sin(i))
    await writeCheckpoint(dir, {
      meta: {
        arch: 'smallcnn',
        archOptions: {},
        inputShape: [8, 8, 1],
        classes: ['a'],
        task: 'single',
        output: 'logits'
      },
      weights: [{ name: 'head/kernel', shape: [300], kind: 'trainable', data: w }]
    })
    expect(Array.from((await readCheckpoint(dir)).weights[0].data)).toEqual(Array.from(w))
    const bytes = readFileSync(join(dir, 'weights.bin'))
    bytes[17] ^= 0x01
    writeFileSync(join(dir, 'weights.bin'), bytes)
    await expect(readCheckpoint(dir)).rejects.toThrow(
      'damaged checkpoint file r/members/m/weights.bin: its SHA-256 differs from the one recorded when it was written'
    )
  })

  it("a flipped byte in a member's weights file: fuse reports the member damaged and fuses the others", async () => {
    const ws = temp('ff-damaged-')
    const workspace = Workspace.open(ws)
    const store = Store.open(workspace.dbPath)
    const classes = ['q0', 'q1', 'q2']
    let victim = ''
    try {
      store.datasets.create({
        id: 'ds_tiny',
        name: 'tiny',
        format: 'synthetic',
        task: 'single',
        status: 'ready',
        classes,
        counts: { train: 32, val: 40, test: 50 },
        dir: 'datasets/ds_tiny'
      })
      writeDataset(workspace.datasetDir('ds_tiny'), classes, { train: 32, val: 40, test: 50 }, 5)
      store.runs.create({ id: 'run_tiny', name: 'tiny', datasetId: 'ds_tiny', kind: 'grid', config: { metric: 'acc' } })
      store.runs.setStatus('run_tiny', 'done')
      for (const m of await writeMembers(join(ws, 'staging'), classes)) {
        const rec = store.runs.createMember({
          id: `mem_${m.id}`,
          runId: 'run_tiny',
          name: m.id,
          hyperparams: { lr: m.hparams.lr as number, seed: m.hparams.seed as number }
        })
        const dir = workspace.memberDir('run_tiny', rec.id)
        cpSync(m.dir, dir, { recursive: true })
        recordCheckpoint(store, workspace, workspace.toRelative(dir)) // as the fission job does
        store.runs.updateMember(rec.id, {
          checkpointPath: workspace.toRelative(dir),
          status: 'done',
          epochs: 4,
          wallSeconds: 2
        })
      }
      victim = 'mem_m11'
      const file = join(workspace.resolve(store.runs.getMember(victim)!.checkpointPath!), 'weights.bin')
      const bytes = readFileSync(file)
      bytes[1001] ^= 0x10 // one bit of one float: still a plausible number, only the hash can tell
      writeFileSync(file, bytes)
    } finally {
      store.close()
    }
    const r = (await cliJson(ws, 'wasm', ['fuse', '--run', 'run_tiny', '--methods', 'uniform', '--resamples', '100'], {
      FF_THREADS: '1'
    })) as {
      damaged: { memberId: string; reason: string }[]
      notes: string[]
      members: unknown
      methods: { method: string; modelId: string }[]
    }
    expect(r.damaged).toEqual([
      {
        memberId: victim,
        name: 'm11',
        reason: 'runs/run_tiny/members/mem_m11/weights.bin does not match the SHA-256 recorded when it was written'
      }
    ])
    expect(r.notes[0]).toBe(
      `member ${victim} (m11) is damaged and was left out: runs/run_tiny/members/mem_m11/weights.bin does not match the SHA-256 recorded when it was written`
    )
    const after = Store.open(join(ws, 'fissionfusion.db'))
    try {
      expect(after.runs.getMember(victim)!.status).toBe('failed')
      expect(after.files.damaged().map((f) => f.path)).toEqual(['runs/run_tiny/members/mem_m11/weights.bin'])
      const soup = r.methods.find((m) => m.method === 'uniform')!.modelId
      const used = after.soups
        .ingredients(soup)
        .filter((g) => g.kept)
        .map((g) => g.memberId)
        .sort()
      expect(used).toEqual(['mem_m00', 'mem_m01', 'mem_m02', 'mem_m10', 'mem_m12'])
      // the soup's weights are the mean of the five sound members, not of the damaged one
      const sound = await Promise.all(
        used.map((id) => readCheckpoint(Workspace.open(ws).resolve(after.runs.getMember(id!)!.checkpointPath!)))
      )
      const soupCk = await readCheckpoint(Workspace.open(ws).resolve(after.soups.get(soup)!.checkpointPath!))
      const k = soupCk.weights.findIndex((w) => w.kind === 'trainable')
      const mean = sound.reduce((a, c) => a + c.weights[k].data[0], 0) / sound.length
      expect(soupCk.weights[k].data[0]).toBeCloseTo(mean, 6)
      // and export refuses the damaged member by name
      const exp = await cliGroup([
        '--workspace',
        ws,
        'export',
        '--model',
        victim,
        '--format',
        'onnx',
        '--out',
        join(ws, 'x.onnx')
      ]).done
      expect(exp.code).toBe(1)
      expect(exp.stderr).toMatch(
        /member mem_m11 \(m11\) is not ready: its status is failed \(its weights file may be damaged\)/
      )
    } finally {
      after.close()
    }
  }, 180_000)
})
