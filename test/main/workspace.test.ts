import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Store } from '../../src/main/store'
import {
  chooseWorkspaceDir,
  DB_FILE,
  defaultWorkspaceDir,
  legacyWorkspaceDir,
  Workspace,
  WorkspaceError
} from '../../src/main/workspace'

const dirs: string[] = []
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ff-ws-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('workspace', () => {
  it('creates a missing folder with its layout', () => {
    const dir = join(tmp(), 'new', 'ws')
    const ws = Workspace.open(dir)
    for (const sub of ['datasets', 'runs', 'exports']) expect(existsSync(join(dir, sub))).toBe(true)
    expect(ws.dbPath).toBe(join(dir, DB_FILE))
    expect(ws.memberDir('run_1', 'mem_2')).toBe(join(dir, 'runs', 'run_1', 'members', 'mem_2'))
    expect(ws.datasetDir('ds_1')).toBe(join(dir, 'datasets', 'ds_1'))
  })

  it('creates a workspace in an empty folder, and opens it again once it has a database', () => {
    const dir = tmp()
    const ws = Workspace.open(dir)
    expect(Workspace.exists(dir)).toBe(false)
    Store.open(ws.dbPath).close()
    expect(Workspace.exists(dir)).toBe(true)
    writeFileSync(join(dir, 'datasets', 'note.txt'), 'x')
    expect(Workspace.open(dir).dir).toBe(dir)
  })

  it('refuses a non-empty folder without fissionfusion.db, and a file, with a clear message', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'thesis.docx'), 'x')
    expect(() => Workspace.open(dir)).toThrow(WorkspaceError)
    expect(() => Workspace.open(dir)).toThrow(
      /is not a FissionFusion workspace: it is not empty and has no fissionfusion\.db/
    )
    // Refusing leaves the folder as it was.
    expect(existsSync(join(dir, 'datasets'))).toBe(false)
    expect(() => Workspace.open(join(dir, 'thesis.docx'))).toThrow(/is a file, not a workspace folder/)
  })

  it('stores relative paths and refuses paths that leave the workspace', () => {
    const ws = Workspace.open(tmp())
    expect(ws.toRelative(ws.memberDir('run_1', 'mem_1') + '/w.bin')).toBe('runs/run_1/members/mem_1/w.bin')
    expect(ws.resolve('runs/run_1/members/mem_1/w.bin')).toBe(
      join(ws.dir, 'runs', 'run_1', 'members', 'mem_1', 'w.bin')
    )
    expect(() => ws.resolve('../outside')).toThrow(/outside the workspace/)
    expect(() => ws.resolve('/etc/passwd')).toThrow(/relative/)
    expect(() => ws.toRelative('/etc/passwd')).toThrow(/outside the workspace/)
    expect(() => ws.datasetDir('../../x')).toThrow(/outside the workspace/)
  })

  it('defaults to the local (not roaming) app-data folder', () => {
    expect(defaultWorkspaceDir({}, 'linux')).toBe(join(homedir(), '.local', 'share', 'FissionFusion'))
    expect(defaultWorkspaceDir({ XDG_DATA_HOME: '/x/data' }, 'linux')).toBe('/x/data/FissionFusion')
    expect(defaultWorkspaceDir({}, 'darwin')).toBe(join(homedir(), 'Library', 'Application Support', 'FissionFusion'))
    expect(
      defaultWorkspaceDir(
        { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local', APPDATA: 'C:\\Users\\u\\AppData\\Roaming' },
        'win32'
      )
    ).toBe(join('C:\\Users\\u\\AppData\\Local', 'FissionFusion'))
  })

  it('keeps using a workspace at the pre-0.2 default (Electron userData) when the new default has none', () => {
    const d = tmp()
    const env = { XDG_DATA_HOME: join(d, 'data'), XDG_CONFIG_HOME: join(d, 'cfg') }
    expect(chooseWorkspaceDir(undefined, env, 'linux')).toBe(join(d, 'data', 'FissionFusion'))
    mkdirSync(join(d, 'cfg', 'FissionFusion'), { recursive: true })
    writeFileSync(join(d, 'cfg', 'FissionFusion', DB_FILE), '')
    expect(legacyWorkspaceDir(env, 'linux')).toBe(join(d, 'cfg', 'FissionFusion'))
    expect(chooseWorkspaceDir(undefined, env, 'linux')).toBe(join(d, 'cfg', 'FissionFusion'))
    mkdirSync(join(d, 'data', 'FissionFusion'), { recursive: true })
    writeFileSync(join(d, 'data', 'FissionFusion', DB_FILE), '')
    expect(chooseWorkspaceDir(undefined, env, 'linux')).toBe(join(d, 'data', 'FissionFusion'))
  })

  it('--workspace overrides FF_WORKSPACE, which overrides the default', () => {
    const d = tmp()
    mkdirSync(join(d, 'a'))
    expect(chooseWorkspaceDir(join(d, 'a'), { FF_WORKSPACE: join(d, 'b') })).toBe(join(d, 'a'))
    expect(chooseWorkspaceDir(undefined, { FF_WORKSPACE: join(d, 'b') })).toBe(join(d, 'b'))
    expect(chooseWorkspaceDir(undefined, { XDG_DATA_HOME: '/x/data' })).toBe(
      process.platform === 'linux' ? '/x/data/FissionFusion' : defaultWorkspaceDir({ XDG_DATA_HOME: '/x/data' })
    )
  })
})
