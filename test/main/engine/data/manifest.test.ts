import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCsv } from '../../../../src/main/engine/data/csv'
import { assignSplits, importDataset } from '../../../../src/main/engine/data/import'
import { csvImporter } from '../../../../src/main/engine/data/importers/csv'
import { buildManifest, detectRoles, suspiciousClassNames } from '../../../../src/main/engine/data/manifest'
import { pngBytes, writeImages } from '../../../fixtures/data/generate'
import { HAVE_SHARED_DATA, SHARED_DATA, SYSTEM_PYTHON } from '../../../fixtures/data/shared'

describe('manifest roles and labels (hand-made tables)', () => {
  it('class column with several rows per image: any positive wins (RSNA boxes)', () => {
    const t = parseCsv('patientId;x;y;width;height;Target\r\na;;;;;0\r\nb;1;2;3;4;1\r\nb;5;6;7;8;1\r\nc;;;;;0\r\n')
    const roles = detectRoles(t)
    expect(roles).toMatchObject({ path: 'patientId', label: 'Target', labelKind: 'class' })
    const m = buildManifest(t, roles, 'ignore')
    expect(m.classes).toEqual(['0', '1'])
    expect(m.entries.map((e) => [e.key, e.label, e.rows.length])).toEqual([
      ['a', 0, 1],
      ['b', 1, 2],
      ['c', 0, 1]
    ])
  })
  it('one-hot columns become one class; CheXpert-style columns multi-label with the uncertain policy', () => {
    const onehot = parseCsv('image,MEL,NV\nx,1.0,0.0\ny,0.0,1.0\n')
    const r1 = detectRoles(onehot)
    expect(r1.labelKind).toBe('onehot')
    expect(buildManifest(onehot, r1, 'ignore').entries.map((e) => e.label)).toEqual([0, 1])
    const chex = parseCsv(
      'Path,Sex,Age,A,B,C\np1/s/v.jpg,Male,50,1.0,-1.0,\np2/s/v.jpg,Female,60,,,\np3/s/v.jpg,Male,70,,,0.0\n'
    )
    const r2 = detectRoles(chex)
    expect(r2).toMatchObject({ labels: ['A', 'B', 'C'], labelKind: 'multilabel' })
    const ones = buildManifest(chex, r2, 'ones')
    expect([...(ones.entries[0].label as Float32Array)]).toEqual([1, 1, NaN])
    expect([...(buildManifest(chex, r2, 'zeros').entries[0].label as Float32Array)]).toEqual([1, 0, NaN])
    expect([...(buildManifest(chex, r2, 'ignore').entries[0].label as Float32Array)]).toEqual([1, NaN, NaN])
    expect(ones.issues).toEqual([{ file: 'p2/s/v.jpg', reason: 'no known label in columns A, B, C (all blank)' }])
  })
  it('conflicting class names for one image, unknown split values and empty labels are reported', () => {
    const t = parseCsv(
      'file,label,split\na.png,cat,train\na.png,dog,train\nb.png,cat,holdout\nc.png,,train\nd.png,dog,val\n'
    )
    const m = buildManifest(t, detectRoles(t), 'ignore')
    expect(m.entries.map((e) => e.key)).toEqual(['d.png'])
    expect(m.issues.map((i) => i.file)).toEqual(['a.png', 'b.png', 'c.png'])
    expect(m.issues[0].reason).toMatch(/conflicting labels "cat", "dog"/)
    expect(m.issues[1].reason).toMatch(/unknown split "holdout"/)
  })
  it('overrides name the columns', () => {
    const t = parseCsv('a,b,c\nx.png,1,p1\n')
    expect(detectRoles(t, { path: 'a', label: 'b', group: 'c' })).toMatchObject({ path: 'a', label: 'b', group: 'c' })
    expect(() => detectRoles(t, { label: 'nope' })).toThrow(/column "nope" not found/)
  })
  it('flags class names containing another class name glued to letters', () => {
    const bad = suspiciousClassNames([
      'Melanoma',
      'Melanomaanocytic Nevi (moles)',
      'Basal Cell Carcinoma',
      'Melanoma in situ'
    ])
    expect([...bad.keys()]).toEqual(['Melanomaanocytic Nevi (moles)'])
  })
})

const CSV = join(SHARED_DATA, 'csv')
const work = await mkdtemp(join(tmpdir(), 'ff-csv-'))
afterAll(() => rm(work, { recursive: true, force: true }))

/** How each shipped CSV names its images, and the folder they go in. */
const CASES: { csv: string; dir: string; name: (r: Record<string, string>) => string }[] = [
  { csv: 'ham10000_metadata.csv', dir: 'ham', name: (r) => `${r.image_id}.jpg` },
  { csv: 'ham10000_metadata_corrupted_dx_names.csv', dir: 'ham', name: (r) => `${r.image_id}.jpg` },
  { csv: 'isic2018_task3_groundtruth_onehot.csv', dir: 'ham', name: (r) => `${r.image}.jpg` },
  { csv: 'aptos2019_train_labels.csv', dir: 'aptos', name: (r) => `${r.id_code}.png` },
  { csv: 'aptos_dataset_splits.csv', dir: 'aptos', name: (r) => r.filename },
  { csv: 'chexpert_valid.csv', dir: 'chexpert', name: (r) => r.Path },
  { csv: 'chexpert_train_subset.csv', dir: 'chexpert', name: (r) => r.Path },
  { csv: 'rsna_stage2_train_labels_semicolon_crlf.csv', dir: 'rsna', name: (r) => `${r.patientId}.png` },
  { csv: 'rsna_pneumonia_splits.csv', dir: 'rsna', name: (r) => `${r.patientId}.png` }
]

/**
 * Independent expectation with Python's csv module: distinct images having a usable label
 * (class cell non-empty; one-hot row with exactly one 1; CheXpert row with any 1.0 / 0.0,
 * uncertain ignored), and the distinct names of each file.
 */
function pythonCounts(): Record<string, { images: number; names: string[] }> {
  const py = `
import csv, json, sys
out = {}
for f in sys.argv[1:]:
    text = open(f, newline='', encoding='utf-8-sig').read()
    d = csv.Sniffer().sniff(text.splitlines()[0], delimiters=',;')
    rows = list(csv.DictReader(text.splitlines(), dialect=d))
    cols = rows[0].keys()
    key = next(c for c in ['Path', 'filename', 'image_id', 'image', 'id_code', 'patientId'] if c in cols)
    lab = next((c for c in ['class', 'dx', 'diagnosis', 'Target'] if c in cols), None)
    ok = set()
    for r in rows:
        if lab: good = r[lab] != ''
        elif 'MEL' in cols: good = sum(float(r[c]) for c in ['MEL','NV','BCC','AKIEC','BKL','DF','VASC']) == 1
        else: good = any(r[c] in ('1.0', '0.0') for c in list(cols)[5:])
        if good: ok.add(r[key])
    out[f.split('/')[-1]] = {'images': len(ok), 'names': sorted({r[key] for r in rows})}
print(json.dumps(out))`
  return JSON.parse(
    execFileSync(SYSTEM_PYTHON, ['-c', py, ...CASES.map((c) => join(CSV, c.csv))], {
      encoding: 'utf8',
      maxBuffer: 1 << 28
    })
  )
}

describe.skipIf(!HAVE_SHARED_DATA)('shipped CSV manifests with generated images', () => {
  let expected: Record<string, { images: number; names: string[] }>
  beforeAll(async () => {
    expected = pythonCounts()
    const png = await pngBytes(8, 1)
    const byDir = new Map<string, Set<string>>()
    for (const c of CASES) {
      const t = parseCsv((await import('node:fs')).readFileSync(join(CSV, c.csv), 'utf8'))
      const set = byDir.get(c.dir) ?? new Set<string>()
      for (const row of t.rows) set.add(c.name(Object.fromEntries(t.header.map((h, i) => [h, row[i]]))))
      byDir.set(c.dir, set)
    }
    for (const [dir, names] of byDir) await writeImages(join(work, dir), names, png)
  }, 300_000)

  it.each(CASES.map((c) => [c.csv, c.dir] as const))(
    '%s parses into the right number of labelled images',
    async (csv, dir) => {
      const src = await csvImporter.scan({ input: join(work, dir), csv: join(CSV, csv), uncertain: 'ignore' })
      const want = expected[csv]
      if (csv === 'ham10000_metadata_corrupted_dx_names.csv') {
        // The corrupted long name is reported per image, never mapped to a class.
        const bad = src.issues.filter((i) => i.reason.includes('ambiguous class name "Melanomaanocytic Nevi (moles)"'))
        expect(bad.length).toBe(6705)
        expect(src.items.length + bad.length).toBe(want.images)
        expect(src.classes).not.toContain('Melanomaanocytic Nevi (moles)')
        expect(src.classes).toHaveLength(6)
      } else {
        expect(src.items.length).toBe(want.images)
        // Only CheXpert rows whose labels are all blank or uncertain (policy 'ignore') are left out, and reported.
        for (const i of src.issues)
          expect(i.reason).toMatch(/^no known label in columns No Finding, .* \(all blank or uncertain\)$/)
        expect(src.items.length + src.issues.length).toBe(want.names.length)
      }
    }
  )

  it('HAM10000: a generated split never puts two images of one lesion in different splits, and is stratified', async () => {
    const src = await csvImporter.scan({
      input: join(work, 'ham'),
      csv: join(CSV, 'ham10000_metadata.csv'),
      uncertain: 'ignore'
    })
    expect(new Set(src.items.map((i) => i.group)).size).toBe(7470) // distinct lesion_id in HAM10000
    const { items } = assignSplits(src, { train: 0.7, val: 0.1, test: 0.2 }, 7, [])
    const splitOfLesion = new Map<string, string>()
    for (const it of items) {
      expect(splitOfLesion.get(it.group!) ?? it.split).toBe(it.split)
      splitOfLesion.set(it.group!, it.split)
    }
    for (let k = 0; k < src.classes.length; k++) {
      const ofClass = items.filter((i) => i.label === k)
      const share = ofClass.filter((i) => i.split === 'train').length / ofClass.length
      expect(Math.abs(share - 0.7)).toBeLessThan(0.05)
    }
    const again = assignSplits(src, { train: 0.7, val: 0.1, test: 0.2 }, 7, []).items.map((i) => i.split)
    expect(again).toEqual(items.map((i) => i.split))
  })

  it('APTOS with a split column keeps it; CheXpert imports as multi-label with masked blanks', async () => {
    const aptos = await importDataset(
      { input: join(work, 'aptos'), csv: join(CSV, 'aptos_dataset_splits.csv'), size: 8 },
      { outDir: join(work, 'c-aptos') }
    )
    expect(aptos.failed).toBe(0)
    expect(aptos.meta.counts).toEqual({ train: 2929, val: 366, test: 367 })
    expect(aptos.meta.splitSource).toBe('dataset')
    expect(aptos.meta.classes).toEqual(['0', '1', '2', '3', '4'])
    const chex = await importDataset(
      { input: join(work, 'chexpert'), csv: join(CSV, 'chexpert_valid.csv'), size: 8, uncertain: 'ones' },
      { outDir: join(work, 'c-chex') }
    )
    expect(chex.meta.task).toBe('multilabel')
    expect(chex.meta.classes).toHaveLength(14)
    expect(chex.imported).toBe(234)
    expect(chex.meta.uncertainPolicy).toBe('ones')
  })
})
