import { describe, expect, it } from 'vitest'
import type { JobEvent } from '../../../src/shared/records'
import { progressPrinter } from '../../../src/main/commands/progress'

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    text: '',
    write(chunk: string) {
      s.text += chunk
      return true
    }
  }
  return s as unknown as NodeJS.WriteStream & { text: string }
}

const at = '2026-01-01T00:00:00.000Z'
const progress = (fraction: number, phase: string, etaSeconds: number | null, seq: number): JobEvent => ({
  seq,
  jobId: 'job_1',
  at,
  type: 'progress',
  progress: { fraction, phase, etaSeconds }
})

describe('progress display', () => {
  it('draws one redrawn bar on a TTY, with percent, phase and ETA', () => {
    const s = fakeStream(true)
    const p = progressPrinter(s)
    p.onEvent(progress(0.5, 'epoch 2/4', 125, 1))
    expect(s.text).toBe(`\r\x1b[2K[${'#'.repeat(15)}${'-'.repeat(15)}]  50% epoch 2/4  ETA 2m05s`)
    p.onEvent({ seq: 2, jobId: 'job_1', at, type: 'log', level: 'warn', message: 'slow backend' })
    expect(s.text.endsWith('\r\x1b[2K[warn] slow backend\n')).toBe(true)
    p.end()
  })

  it('prints plain lines without a TTY, at most one a second per phase, and always the last', () => {
    const s = fakeStream(false)
    const p = progressPrinter(s)
    p.onEvent(progress(0.1, 'epoch 1/3', 7200, 1))
    p.onEvent(progress(0.2, 'epoch 1/3', 60, 2)) // same phase, within a second: skipped
    p.onEvent(progress(0.4, 'validate', null, 3)) // a new phase: printed
    p.onEvent(progress(1, 'epoch 3/3', 0, 4))
    expect(s.text).toBe('10% epoch 1/3 (ETA 2h00m)\n40% validate\n100% epoch 3/3 (ETA 0s)\n')
    expect(s.text).not.toContain('\r')
  })
})
