/**
 * End to end, the pictures behind the method: the linear-mode-connectivity chart (Members view)
 * and the loss-plane heat map (Fusion view), drawn by the built renderer in Debian's Chromium
 * against `npx fissionfusion serve`, on a workspace holding a tiny run (start/ + six members
 * fine-tuned from it) that `fuse` has merged. Screenshots go to test-artifacts/.
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'
import { Rng } from '../../src/main/engine/data/rng'
import { getArch } from '../../src/main/engine/models'
import { weightsOf, writeCheckpoint } from '../../src/main/engine/models/checkpoint'
import { Store } from '../../src/main/store'
import { Workspace } from '../../src/main/workspace'
import { cliJson } from '../fixtures/process'
import { writeDataset } from '../main/engine/fusion/tiny'

const ROOT = resolve(import.meta.dirname, '../..')
const ARTIFACTS = join(ROOT, 'test-artifacts')
const CHROMIUM = '/usr/bin/chromium'

let server: ChildProcess | undefined
let browser: BrowserContext | undefined
let page: Page
const ws = mkdtempSync(join(tmpdir(), 'ff-e2e-fusion-'))
const userData = mkdtempSync(join(tmpdir(), 'ff-e2e-fusion-chromium-'))
const pageProblems: string[] = []

function serve(dir: string): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/fissionfusion.mjs'), '--workspace', dir, 'serve', '--json'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
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

/** Whether out/renderer was built after the last change to the renderer and contract sources. */
function rendererFresh(): boolean {
  const built = join(ROOT, 'out/renderer/index.html')
  if (!existsSync(built)) return false
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .reduce((m, e) => Math.max(m, statSync(join(e.parentPath, e.name)).mtimeMs), 0)
  return statSync(built).mtimeMs > Math.max(newest(join(ROOT, 'src/renderer')), newest(join(ROOT, 'src/shared')))
}

async function expectClean(): Promise<void> {
  const text = await page.locator('body').innerText()
  expect(text).not.toMatch(/\bundefined\b/)
  expect(text).not.toMatch(/\bNaN\b/)
  expect(text).not.toMatch(/\[object Object\]/)
}

async function openView(id: string, title: string): Promise<void> {
  await page.click(`nav a[href="#/${id}"]`)
  await page.locator('header h1', { hasText: title }).waitFor()
  await page.waitForLoadState('networkidle')
}

/** A tiny run: a dataset, the run's start/ and two lineages of three members fine-tuned from it. */
async function tinyRun(): Promise<void> {
  const workspace = Workspace.open(ws)
  const store = Store.open(workspace.dbPath)
  try {
    const classes = ['q0', 'q1', 'q2', 'q3']
    const counts = { train: 64, val: 64, test: 64 }
    store.datasets.create({
      id: 'ds_quad',
      name: 'quadrants',
      format: 'synthetic',
      task: 'single',
      status: 'ready',
      classes,
      counts,
      dir: 'datasets/ds_quad'
    })
    writeDataset(workspace.datasetDir('ds_quad'), classes, counts, 5)
    store.runs.create({
      id: 'run_quad',
      name: 'tiny FGG',
      datasetId: 'ds_quad',
      kind: 'fgg',
      config: { metric: 'acc', lpEpochs: 0 }
    })
    const meta = {
      arch: 'smallcnn',
      archOptions: {},
      inputShape: [8, 8, 3] as [number, number, number],
      classes,
      task: 'single' as const,
      output: 'logits' as const,
      normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }
    }
    const model = getArch('smallcnn').build({ inputShape: [8, 8, 3], numClasses: classes.length, seed: 10 })
    const start = weightsOf(model)
    model.dispose()
    await writeCheckpoint(join(workspace.runDir('run_quad'), 'start'), { meta, weights: start })
    for (const [g, lr] of [1e-3, 1e-4].entries()) {
      const rng = new Rng(40 + g)
      const dir = start.map((w) => Float32Array.from(w.data, () => rng.normal()))
      let parent: string | null = null
      for (const e of [0, 1, 2]) {
        const w = start.map((x, t) => ({
          ...x,
          data: x.kind === 'trainable' ? x.data.map((v, j) => v + 0.1 * dir[t][j] + 0.04 * rng.normal()) : x.data
        }))
        const id = `mem_lr${g}_e${e}`
        store.runs.createMember({
          id,
          runId: 'run_quad',
          name: `fgg-lr${lr}-e${e}`,
          parentId: parent,
          groupKey: String(lr),
          hyperparams: { lr, seed: 0, epoch: e }
        })
        const staging = join(ws, 'staging', id)
        await writeCheckpoint(staging, { meta, weights: w })
        const d = workspace.memberDir('run_quad', id)
        cpSync(staging, d, { recursive: true })
        store.runs.updateMember(id, {
          checkpointPath: workspace.toRelative(d),
          status: 'done',
          epochs: 2,
          wallSeconds: 1,
          valScore: 0.5
        })
        parent = id
      }
    }
    store.runs.setStatus('run_quad', 'done')
  } finally {
    store.close()
  }
  await cliJson(
    ws,
    'wasm',
    [
      'fuse',
      '--run',
      'run_quad',
      '--methods',
      'best,uniform,modelstock,ties,hier:greedy/modelstock',
      '--resamples',
      '200'
    ],
    { FF_THREADS: '1' }
  )
}

describe('the fusion pictures in a browser', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does it)`)
    // the renderer the bridge serves: built unless out/ is newer than every renderer / contract source
    // (`npm test` builds first; app.test.ts rebuilds too, so two builds are not raced needlessly)
    if (!rendererFresh())
      execFileSync(process.execPath, [join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
        cwd: ROOT,
        stdio: 'pipe'
      })
    mkdirSync(ARTIFACTS, { recursive: true })
    await tinyRun()
    const url = await serve(ws)
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
    await page.locator('.workspace').waitFor()
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    server?.kill('SIGINT')
    rmSync(ws, { recursive: true, force: true })
    rmSync(userData, { recursive: true, force: true })
  })

  it('interpolates two members in the Members view and draws loss and accuracy against λ with the barrier', async () => {
    await openView('members', 'Members')
    await page.selectOption('#lmc-a', 'mem_lr0_e0')
    await page.selectOption('#lmc-b', 'mem_lr1_e2')
    await page.fill('#lmc-steps', '9')
    await page.click('[data-test="lmc-run"]')
    const chart = page.locator('[aria-label="Linear mode connectivity"]')
    await chart.locator('canvas').waitFor({ timeout: 300_000 })
    expect(await chart.getAttribute('data-series')).toBe('3')
    expect(await page.locator('[data-test="lmc-summary"]').innerText()).toMatch(
      /fgg-lr0\.001-e0 \(λ = 0\) → fgg-lr0\.0001-e2 \(λ = 1\)[\s\S]*Loss barrier: \d+\.\d{4} at λ = \d\.\d{2}/
    )
    await expectClean()
    await chart.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'fusion-lmc.png'), fullPage: true })
    await chart.screenshot({ path: join(ARTIFACTS, 'fusion-lmc-chart.png') })
  }, 600_000)

  it("shows each level's method in the soup tree and draws the loss plane with the models and soups", async () => {
    await openView('fusion', 'Fusion')
    await page.locator('[aria-label="Soup hierarchy tree"] canvas').waitFor({ timeout: 60_000 })
    expect(await page.locator('[data-test="methods-table"]').innerText()).toMatch(
      /Model Stock[\s\S]*TIES[\s\S]*greedy of Model Stock/
    )
    await page.selectOption('[aria-label="Method whose tree is shown"]', 'hier:greedy/modelstock')
    await page
      .locator('[aria-label="Soup hierarchy tree"]')
      .screenshot({ path: join(ARTIFACTS, 'fusion-tree-hier.png') })
    await page.selectOption('#plane-a', 'mem_lr0_e0')
    await page.selectOption('#plane-b', 'mem_lr0_e2')
    await page.selectOption('#plane-c', 'mem_lr1_e1')
    await page.fill('#plane-grid', '9')
    await page.click('[data-test="plane-run"]')
    const chart = page.locator('[aria-label="Loss plane"]')
    await chart.locator('canvas').first().waitFor({ timeout: 600_000 })
    const table = await page.locator('[data-test="plane-points"]').innerText()
    expect(table).toMatch(/A: member: fgg-lr0\.001-e0\s+0\.000\s+0\.000\s+\d+\.\d{4}/)
    // the soups of the run (uniform, modelstock, ties, the hierarchy), each with its distance to the plane
    expect(table.match(/soup: /g)?.length).toBe(4)
    expect(table).toMatch(/% of the models' extent/)
    await expectClean()
    await chart.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(ARTIFACTS, 'fusion-plane.png'), fullPage: true })
    await chart.screenshot({ path: join(ARTIFACTS, 'fusion-plane-chart.png') })
  }, 900_000)

  it('reported no console error, CSP violation or uncaught exception', () => {
    expect(pageProblems).toEqual([])
  })
})
