import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { averageArrays, averageCheckpoints, normaliseWeights } from '../../../../src/main/engine/fusion/average'
import { writeCheckpoint, type NamedWeight } from '../../../../src/main/engine/models/checkpoint'

const root = mkdtempSync(join(tmpdir(), 'ff-average-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

let counter = 0
/** Writes a synthetic checkpoint folder holding the given weights. */
async function member(weights: NamedWeight[]): Promise<string> {
  const dir = join(root, `m${counter++}`)
  await writeCheckpoint(dir, {
    meta: {
      arch: 'smallcnn',
      archOptions: {},
      inputShape: [8, 8, 1],
      classes: ['a', 'b'],
      task: 'single',
      output: 'logits',
      info: { lr: 1e-3 }
    },
    weights
  })
  return dir
}

const w = (
  name: string,
  values: number[],
  kind: NamedWeight['kind'] = 'trainable',
  shape = [values.length]
): NamedWeight => ({ name, shape, kind, data: Float32Array.from(values) })

describe('pure weight arithmetic', () => {
  it('averages two parameter sets by hand: avg([1,2,3,-1],[3,2,7,3]) = [2,2,5,1]', () => {
    expect(Array.from(averageArrays([[[1, 2, 3, -1]], [[3, 2, 7, 3]]])[0])).toEqual([2, 2, 5, 1])
  })
  it('weighs members: 3:1 of [1,2,3,-1] and [3,2,7,3] = [1.5,2,4,0]', () => {
    expect(Array.from(averageArrays([[[1, 2, 3, -1]], [[3, 2, 7, 3]]], [3, 1])[0])).toEqual([1.5, 2, 4, 0])
  })
  it('averages several arrays per set and three members', () => {
    const out = averageArrays(
      [
        [[0, 3], [6]],
        [[3, 3], [0]],
        [[6, 0], [3]]
      ],
      [1, 1, 2]
    )
    // (0+3+12)/4 = 3.75, (3+3+0)/4 = 1.5, (6+0+6)/4 = 3
    expect(out.map((a) => Array.from(a))).toEqual([[3.75, 1.5], [3]])
  })
  it('rejects negative or all-zero weights', () => {
    expect(() => normaliseWeights([1, -1])).toThrow(/weight 1 is -1/)
    expect(() => normaliseWeights([0, 0])).toThrow(/sum to 0/)
    expect(() => normaliseWeights([])).toThrow(/no members/)
  })
})

describe('streaming average of checkpoints', () => {
  it('matches hand-computed values; int buffers come from the first member; BN stats are averaged', async () => {
    const a = await member([
      w('conv/kernel', [1, 2, 3, -1], 'trainable', [2, 2]),
      w('bn/moving_mean', [0, 4], 'bn-stat'),
      w('count', [5], 'int')
    ])
    const b = await member([
      w('conv/kernel', [3, 2, 7, 3], 'trainable', [2, 2]),
      w('bn/moving_mean', [2, 0], 'bn-stat'),
      w('count', [9], 'int')
    ])
    const soup = await averageCheckpoints([
      { dir: a, weight: 1 },
      { dir: b, weight: 1 }
    ])
    expect(soup.weights.map((x) => [x.name, x.kind, x.shape, Array.from(x.data)])).toEqual([
      ['conv/kernel', 'trainable', [2, 2], [2, 2, 5, 1]],
      ['bn/moving_mean', 'bn-stat', [2], [1, 2]],
      ['count', 'int', [1], [5]]
    ])
    expect(soup.meta.arch).toBe('smallcnn')
    expect(soup.meta.trainer).toBeUndefined()
    const weighted = await averageCheckpoints([
      { dir: a, weight: 0.25 },
      { dir: b, weight: 0.75 }
    ])
    expect(Array.from(weighted.weights[0].data)).toEqual([2.5, 2, 6, 2])
  })

  it('a soup of identical members equals the member exactly', async () => {
    const values = Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e-2 + 1 / (i + 3))
    const one = [w('dense/kernel', values), w('dense/bias', values.slice(0, 10))]
    const dirs = await Promise.all(Array.from({ length: 5 }, () => member(one)))
    const soup = await averageCheckpoints(dirs.map((dir) => ({ dir, weight: 1 })))
    soup.weights.forEach((x, i) => expect(x.data).toEqual(Float32Array.from(one[i].data)))
  })

  it('names the member whose layout differs', async () => {
    const a = await member([w('x', [1, 2])])
    const b = await member([w('y', [1, 2])])
    await expect(
      averageCheckpoints([
        { dir: a, weight: 1 },
        { dir: b, weight: 1 }
      ])
    ).rejects.toThrow(new RegExp(`${b.split('/').pop()} weight 0 is y`))
  })

  it('keeps memory flat when averaging 48 members of 4 MB', async () => {
    const n = 1 << 20 // floats per member: 4 MiB
    const dirs: string[] = []
    for (let m = 0; m < 48; m++) {
      const data = new Float32Array(n)
      for (let j = 0; j < n; j += 1024) data[j] = m
      dirs.push(
        await member([
          { name: 'big/kernel', shape: [n / 2], kind: 'trainable', data: data.subarray(0, n / 2) },
          { name: 'big2/kernel', shape: [n / 2], kind: 'trainable', data: data.subarray(n / 2) }
        ])
      )
    }
    // a clean baseline: collect the 48 written arrays first
    setFlagsFromString('--expose-gc')
    ;(runInNewContext('gc') as () => void)()
    const base = process.memoryUsage()
    const samples: number[] = []
    const soup = await averageCheckpoints(
      dirs.map((dir) => ({ dir, weight: 1 })),
      {
        onMember: () => samples.push(process.memoryUsage().arrayBuffers - base.arrayBuffers)
      }
    )
    if (process.env.FF_PRINT) console.log(JSON.stringify(samples.map((s) => Math.round(s / 1024))))
    expect(samples).toHaveLength(48)
    // mean of 0..47 = 23.5 at every 1024th value
    expect(soup.weights[0].data[0]).toBe(23.5)
    expect(soup.weights[1].data[1024]).toBe(23.5)
    // After the first member, buffers hold the float64 sum (8 MiB) + one 2 MiB read buffer; they
    // must not grow with the number of members.
    const modelBytes = 4 * n
    expect(samples[0]).toBeLessThan(3 * modelBytes)
    expect(Math.max(...samples) - samples[0]).toBeLessThan(modelBytes / 2)
  })
})
