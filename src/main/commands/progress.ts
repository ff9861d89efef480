/** Progress display of a job on the terminal: a bar on a TTY, plain lines otherwise (stderr). */
import type { JobEvent } from '../../shared/records'

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return ''
  const s = Math.round(seconds)
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`
}

/** Renders job events to `stream`; returns the listener and a function that ends the display. */
export function progressPrinter(stream: NodeJS.WriteStream): { onEvent: (e: JobEvent) => void; end: () => void } {
  const tty = stream.isTTY === true
  let lastLine = 0
  let lastPhase = ''
  let barShown = false
  const clearBar = (): void => {
    if (barShown) stream.write('\r\x1b[2K')
    barShown = false
  }
  return {
    onEvent(e) {
      if (e.type === 'progress') {
        const p = e.progress
        const pct = Math.round(Math.min(1, Math.max(0, p.fraction)) * 100)
        const eta = formatEta(p.etaSeconds)
        if (tty) {
          const width = 30
          const filled = Math.round((pct / 100) * width)
          stream.write(
            `\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${p.phase}${eta ? `  ETA ${eta}` : ''}`
          )
          barShown = true
        } else if (Date.now() - lastLine >= 1000 || p.phase.split(' ')[0] !== lastPhase || pct === 100) {
          // Plain lines at most once a second (or when the phase changes), for logs and pipes.
          stream.write(`${pct}% ${p.phase}${eta ? ` (ETA ${eta})` : ''}\n`)
          lastLine = Date.now()
          lastPhase = p.phase.split(' ')[0]
        }
      } else if (e.type === 'log') {
        clearBar()
        stream.write(`[${e.level}] ${e.message}\n`)
      } else if (e.type === 'started') {
        clearBar()
        stream.write(`job ${e.jobId} started (attempt ${e.attempt})\n`)
      }
    },
    end: clearBar
  }
}
