/**
 * End to end: the built renderer in Debian's Chromium against `npx fissionfusion serve` on a
 * fresh workspace. Every view is opened, checked and photographed into test-artifacts/.
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import sharp from 'sharp'
import type { BrowserContext, Page } from 'playwright-core'

const ROOT = resolve(import.meta.dirname, '../..')
/** The real data shared beside the repository (never copied into it). */
const MEDMNIST = resolve(ROOT, '../shared/data/medmnist/pneumoniamnist.npz')
/** Images per split in the subset the test imports. */
const SUBSET = { train: 160, val: 40, test: 60 }
const ARTIFACTS = join(ROOT, 'test-artifacts')
const CHROMIUM = '/usr/bin/chromium'
const VIEWS = [
  { id: 'datasets', title: 'Datasets' },
  { id: 'new-run', title: 'New run' },
  { id: 'training', title: 'Training' },
  { id: 'members', title: 'Members' },
  { id: 'fusion', title: 'Fusion' },
  { id: 'ood', title: 'Out-of-distribution' },
  { id: 'export', title: 'Export' }
]

let server: ChildProcess | undefined
let browser: BrowserContext | undefined
let page: Page
let workspace: string
let userData: string
/** Problems the page reported: console errors, CSP violations, uncaught exceptions. */
const pageProblems: string[] = []

/** Starts `fissionfusion serve --json` and resolves with the URL it prints. */
function serve(dir: string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/fissionfusion.mjs'), '--workspace', dir, 'serve', '--json'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    server = child
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)))
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolveUrl((JSON.parse(line) as { url: string }).url)
    )
  })
}

/**
 * Writes the first images of each split of PneumoniaMNIST (real chest X-rays) as a small
 * .npz with Debian's numpy, and returns its path. Fails (never skips) when the data is missing.
 */
function medmnistSubset(dir: string): string {
  if (!existsSync(MEDMNIST)) throw new Error(`${MEDMNIST} is missing: the end-to-end test imports a subset of it`)
  mkdirSync(dir, { recursive: true })
  const out = join(dir, 'pneumonia-subset.npz')
  const script = [
    'import sys, numpy as np',
    'd = np.load(sys.argv[1])',
    `n = {'train': ${SUBSET.train}, 'val': ${SUBSET.val}, 'test': ${SUBSET.test}}`,
    "np.savez(sys.argv[2], **{f'{s}_{k}': d[f'{s}_{k}'][:n[s]] for s in n for k in ('images', 'labels')})"
  ].join('\n')
  execFileSync('/usr/bin/python3', ['-c', script, MEDMNIST, out])
  return out
}

/** Text of the page with the check that no unfinished value leaked into it. */
async function visibleText(): Promise<string> {
  return page.locator('body').innerText()
}

async function expectClean(): Promise<void> {
  const text = await visibleText()
  expect(text).not.toMatch(/\bundefined\b/)
  expect(text).not.toMatch(/\bNaN\b/)
  expect(text).not.toMatch(/\[object Object\]/)
}

async function openView(id: string, title: string): Promise<void> {
  await page.click(`nav a[href="#/${id}"]`)
  await page.locator('header h1', { hasText: title }).waitFor()
  await page.waitForLoadState('networkidle')
}

describe('the workstation in a browser', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does it)`)
    // The renderer the bridge serves is the electron-vite build output.
    execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
      cwd: ROOT,
      stdio: 'pipe'
    })
    mkdirSync(ARTIFACTS, { recursive: true })
    workspace = mkdtempSync(join(tmpdir(), 'ff-e2e-ws-'))
    userData = mkdtempSync(join(tmpdir(), 'ff-e2e-chromium-'))
    const url = await serve(workspace)
    // A fresh profile folder (launchPersistentContext's userDataDir is Chromium's --user-data-dir).
    browser = await chromium.launchPersistentContext(userData, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 860 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    })
    page = browser.pages()[0] ?? (await browser.newPage())
    page.on('console', (m) => {
      if (m.type() === 'error') pageProblems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (e) => pageProblems.push(`page error: ${e.message}`))
    page.on('response', (r) => {
      if (r.status() >= 400) pageProblems.push(`HTTP ${r.status()} for ${new URL(r.url()).pathname}`)
    })
    await page.goto(url)
  })

  afterAll(async () => {
    await browser?.close()
    server?.kill('SIGINT')
    if (workspace) rmSync(workspace, { recursive: true, force: true })
    rmSync(workspace + '-data', { recursive: true, force: true })
    if (userData) rmSync(userData, { recursive: true, force: true })
  })

  it('connects to the workspace and shows the backend', async () => {
    await page.locator('.workspace').waitFor()
    const badge = page.locator('[data-test="backend"]')
    // The first call chooses the backend (loads tfjs and its wasm binary): allow it time.
    await expect.poll(() => badge.innerText(), { timeout: 60_000, interval: 250 }).not.toMatch(/Checking/)
    expect(await badge.innerText()).toMatch(
      /^(CPU|GPU) · (native kernels|JS kernels|pure JavaScript|TensorFlow)\b.*\d+ threads?( per worker)?$/
    )
    expect(await page.locator('.workspace').innerText()).toContain(workspace)
    // what computes, as `doctor --json` reports it on this machine (the same environment as the server)
    const doctor = JSON.parse(
      execFileSync(
        process.execPath,
        [join(ROOT, 'bin/fissionfusion.mjs'), '--workspace', workspace, 'doctor', '--json'],
        { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }
      )
    ) as { backend: { backend: string; compute: string; native?: { loaded: boolean } } }
    expect(await badge.getAttribute('title')).toContain(doctor.backend.compute)
    expect(await badge.innerText()).toContain(
      doctor.backend.native?.loaded
        ? 'native kernels'
        : doctor.backend.backend === 'cpu'
          ? 'pure JavaScript'
          : doctor.backend.backend === 'wasm'
            ? 'JS kernels'
            : 'TensorFlow'
    )
    const slower = doctor.backend.backend === 'cpu' || doctor.backend.native?.loaded === false
    expect(await page.locator('[data-test="compute-warning"]').count()).toBe(slower ? 1 : 0)
  })

  it('opens every view, with no leaked undefined/NaN, and saves a screenshot of each', async () => {
    for (const v of VIEWS) {
      await openView(v.id, v.title)
      await expectClean()
      await page.screenshot({ path: join(ARTIFACTS, `view-${v.id}.png`), fullPage: true })
    }
  })

  it('browses folders in the import wizard (read-only listing through the bridge)', async () => {
    await openView('datasets', 'Datasets')
    await page.click('[data-test="import-open"]')
    await page.locator('[data-test="import-wizard"]').waitFor()
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'view-datasets-import.png'), fullPage: true })
  })

  it("detects a CSV manifest's columns and classes in the import wizard, each correctable", async () => {
    const dir = join(workspace + '-data', 'csv-source')
    mkdirSync(join(dir, 'img'), { recursive: true })
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .png()
      .toBuffer()
    const rows = [
      ['a', 'benign', 'train'],
      ['b', 'malignant', 'train'],
      ['c', 'benign', 'test'],
      ['d', 'malignant', 'val']
    ]
    for (const [f] of rows) writeFileSync(join(dir, 'img', `${f}.png`), png)
    writeFileSync(
      join(dir, 'manifest.csv'),
      ['image_id,diagnosis,split,age', ...rows.map(([f, dx, sp]) => `img/${f}.png,${dx},${sp},50`)].join('\n') + '\n'
    )
    await openView('datasets', 'Datasets')
    if (!(await page.locator('[data-test="import-wizard"]').isVisible())) await page.click('[data-test="import-open"]')
    await page.fill('#imp-path', dir)
    await page
      .locator('[data-test="detected-format"]', { hasText: 'CSV manifest + images' })
      .waitFor({ timeout: 30_000 })
    expect(await page.locator('#imp-col-path').inputValue()).toBe('image_id')
    expect(await page.locator('#imp-col-label').inputValue()).toBe('diagnosis')
    expect(await page.locator('#imp-col-split').inputValue()).toBe('split')
    expect(await page.locator('[data-test="detected-classes"]').innerText()).toMatch(
      /Classes \(2\):\s*benign · 2\s*malignant · 2/
    )
    expect(await page.locator('[data-test="detected"]').innerText()).toContain('its own (2 train · 1 test · 1 val)')
    // a wrong correction is shown at once: no row has a split named in column age
    await page.selectOption('#imp-col-split', 'age')
    await expect
      .poll(() => page.locator('[data-test="detected"]').innerText(), { timeout: 30_000 })
      .toContain('4 input(s) will not be imported')
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'view-datasets-detected-columns.png'), fullPage: true })
  })

  it('imports a subset of PneumoniaMNIST and shows its counts, chart and failures', async () => {
    const npz = medmnistSubset(workspace + '-data')
    await openView('datasets', 'Datasets')
    if (!(await page.locator('[data-test="import-wizard"]').isVisible())) await page.click('[data-test="import-open"]')
    await page.fill('#imp-path', npz)
    await page
      .locator('[data-test="detected-format"]', { hasText: 'MedMNIST archive (.npz)' })
      .waitFor({ timeout: 30_000 })
    expect(await page.locator('[data-test="detected"]').innerText()).toMatch(
      /its own \(160 train · 40 val · 60 test\)[\s\S]*28 × 28 px[\s\S]*1 \(gray\)/
    )
    expect(await page.locator('[data-test="detected-columns"]').count()).toBe(0)
    await page.fill('#imp-name', 'pneumonia subset')
    await page.click('[data-test="import-start"]')
    await page.locator('[data-test="import-finish"]').waitFor({ timeout: 180_000 })
    await page.click('[data-test="import-finish"]')
    const summary = page.locator('[data-test="dataset-summary"]')
    await summary.waitFor()
    const text = await summary.innerText()
    expect(text).toContain('pneumonia subset')
    for (const [split, n] of Object.entries(SUBSET)) expect(text).toMatch(new RegExp(`${n}\\s*${split} images`))
    expect(text).toContain('None: every file was imported.')
    await summary.locator('[aria-label="Images per class and split"] canvas').waitFor()
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-1-dataset.png'), fullPage: true })
  }, 300_000)

  it('estimates and runs a tiny FGG plan, with live progress and curves', async () => {
    await openView('new-run', 'New run')
    await page.selectOption('#run-arch', 'smallcnn')
    await page.selectOption('#run-start', 'random')
    await page.fill('#run-lrs', '1e-3, 1e-4')
    await page.fill('#run-epochs', '1')
    await page.fill('#run-batch', '32')
    await page.fill('#run-cepochs', '2')
    await page.fill('#run-cycle', '2')
    // 2 groups × (1 base model + 1 snapshot at epoch 2 of the cycle phase); 2 × (1 + 2) epochs.
    const estimate = page.locator('[data-test="estimate"]')
    await expect.poll(() => estimate.innerText(), { timeout: 30_000 }).toMatch(/4\s*models \(2 groups\)/)
    await expect
      .poll(() => estimate.innerText(), { timeout: 30_000 })
      .toMatch(/6\s*training epochs \(4 trainings of 160 images\)/)
    expect(await page.locator('[data-test="estimate-time"]').innerText()).toBe('not measured yet')
    expect(await page.locator('[data-test="estimate-basis"]').innerText()).toMatch(
      /^Speed: not measured yet: no finished smallcnn model at 28 × 28 px on (tensorflow|wasm|cpu)/
    )
    await page.screenshot({ path: join(ARTIFACTS, 'flow-2-new-run.png'), fullPage: true })
    await page.click('[data-test="run-start"]')
    await page.locator('header h1', { hasText: 'Training' }).waitFor()
    await page.locator('[data-test="member-status"]', { hasText: 'done' }).nth(3).waitFor({ timeout: 600_000 })
    await page.locator('[aria-label="Loss curves"] canvas').waitFor()
    await page.locator('[aria-label="Learning-rate schedule"] canvas').waitFor()
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-3-training.png'), fullPage: true })
    await openView('members', 'Members')
    expect(await page.locator('[data-test="members-table"] tbody tr').count()).toBe(4)
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-4-members.png'), fullPage: true })
    // the finished members now give the same plan a measured time
    await openView('new-run', 'New run')
    await page.selectOption('#run-arch', 'smallcnn')
    await page.fill('#run-epochs', '1')
    await expect
      .poll(() => page.locator('[data-test="estimate-time"]').innerText(), { timeout: 30_000 })
      .toMatch(/^≈ \d+( min \d+)? s$|^≈ \d+ h \d+ min$/)
    expect(await page.locator('[data-test="estimate-basis"]').innerText()).toMatch(
      /^Speed: median speed of 4 finished smallcnn models at 28 × 28 px on (tensorflow|wasm|cpu) in this workspace\.$/
    )
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-4b-new-run-measured.png'), fullPage: true })
  }, 900_000)

  it('fuses the members, shows the soup tree, the methods with CIs and the OOD chart', async () => {
    await openView('fusion', 'Fusion')
    await page.check('text=the corruption suite')
    await page.click('[data-test="fuse"]')
    await page.locator('[data-test="methods-table"] tbody tr').first().waitFor({ timeout: 600_000 })
    await page.locator('[aria-label="Soup hierarchy tree"] canvas').waitFor()
    const table = await page.locator('[data-test="methods-table"]').innerText()
    for (const label of ['Best individual', 'Uniform soup', 'Greedy soup', 'GoU', 'GoG', 'Ensemble'])
      expect(table).toContain(label)
    expect(table).toMatch(/\d\.\d{3}\s+\[\d\.\d{3}, \d\.\d{3}\]/)
    const sentence = page.locator('[data-test="comparison"]')
    await expect
      .poll(() => sentence.innerText(), { timeout: 60_000 })
      .toMatch(
        /^GoG scores .* Best individual on test accuracy \(95% CI of the difference -?\d\.\d{3} to -?\d\.\d{3}, p = \d\.\d{3}\)/
      )
    // any two methods, on another metric
    await page.selectOption('#fu-cmp-a', 'uniform')
    await page.selectOption('#fu-cmp-b', 'ensemble')
    await page.selectOption('#fu-cmp-metric', 'auc')
    await expect
      .poll(() => sentence.innerText(), { timeout: 60_000 })
      .toMatch(
        /^Uniform soup scores .* Ensemble on test AUROC \(95% CI of the difference -?\d\.\d{3} to -?\d\.\d{3}, p = \d\.\d{3}\)/
      )
    expect(await page.locator('[data-test="comparison-numbers"]').innerText()).toMatch(
      /-?\d\.\d{3}\s*difference \(Uniform soup − Ensemble\)\s*\[-?\d\.\d{3}, -?\d\.\d{3}\]\s*95% CI\s*\d\.\d{3}\s*p-value/
    )
    // ROC curves (two classes + chance) and the confusion matrix of the GoG soup, then of a member
    const roc = page.locator('[aria-label="ROC curves"]')
    await roc.locator('canvas').waitFor({ timeout: 60_000 })
    expect(await roc.getAttribute('data-series')).toBe('3')
    const cells = async (): Promise<number[]> =>
      (await page.locator('[data-test="confusion"] tbody td').allInnerTexts()).map(Number)
    expect((await cells()).length).toBe(4)
    expect((await cells()).reduce((a, v) => a + v, 0)).toBe(SUBSET.test)
    expect(await page.locator('[data-test="confusion"] thead').innerText()).toMatch(/predicted[\s\S]*\w/)
    expect(await page.locator('#fu-model option:checked').innerText()).toMatch(/^soup: gog/)
    const member = (await page.locator('#fu-model option', { hasText: 'member:' }).first().getAttribute('value'))!
    await page.selectOption('#fu-model', member)
    await expect.poll(async () => (await cells()).reduce((a, v) => a + v, 0), { timeout: 30_000 }).toBe(SUBSET.test)
    expect(await roc.getAttribute('data-series')).toBe('3')
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-5-fusion.png'), fullPage: true })
    await openView('ood', 'Out-of-distribution')
    await page.locator('[aria-label="Every method per corruption"] canvas').waitFor()
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-6-ood.png'), fullPage: true })
  }, 900_000)

  it('exports the merged model with its card', async () => {
    await openView('export', 'Export')
    await page.locator('#ex-model option', { hasText: 'GoG' }).waitFor({ state: 'attached' })
    await page.selectOption('#ex-model', {
      label: (await page.locator('#ex-model option', { hasText: 'GoG' }).first().innerText()).trim()
    })
    await page.click('[data-test="export-save"]')
    await page.locator('[data-test="exports-table"] tbody tr').first().waitFor({ timeout: 300_000 })
    expect(await page.locator('[data-test="exports-table"]').innerText()).toMatch(/exports\//)
    const card = await page.locator('[data-test="model-card"]').innerText()
    expect(card).toMatch(/gog soup/i)
    expect(card).toMatch(/test\s+accuracy\s+\d\.\d{3} \[/)
    await expectClean()
    await page.screenshot({ path: join(ARTIFACTS, 'flow-7-export.png'), fullPage: true })
  }, 600_000)

  it('reported no console error, CSP violation or uncaught exception', () => {
    expect(pageProblems).toEqual([])
  })
})
