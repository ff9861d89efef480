/**
 * 'selftest': a real diagnostic job. Does `steps` small steps; each writes one row and the
 * job's state in ONE transaction, so after any crash the rows written equal the state's
 * `nextStep`, and a resume continues exactly where it stopped. Used to check the job
 * machinery end to end (progress, cancel, SIGKILL, resume) on a user's machine too.
 */
import { selftestParams } from '../../../shared/jobs'
import { defineJob } from './types'

/** The deterministic value of step `i` (so a test can recompute the sum independently). */
export function selftestValue(step: number): number {
  return ((step * 7919) % 1009) / 1009
}

const params = selftestParams

interface SelftestState {
  [key: string]: number
  /** Next step to do (= steps done). */
  nextStep: number
  /** Sum of the values written so far. */
  sum: number
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}

export const selftestJob = defineJob<'selftest', SelftestState>({
  kind: 'selftest',
  description: 'Diagnostic: N small steps, each writing a row and a checkpoint transactionally.',
  params,
  async run(ctx, p) {
    const state = ctx.state.get() ?? { nextStep: 0, sum: 0 }
    if (state.nextStep > 0) ctx.log('info', `resuming at step ${state.nextStep} of ${p.steps}`)
    const t0 = Date.now()
    const first = state.nextStep
    for (let step = state.nextStep; step < p.steps; step++) {
      ctx.signal.throwIfAborted()
      await sleep(p.stepMs, ctx.signal)
      ctx.signal.throwIfAborted()
      if (step === p.failAtStep) throw new Error(`selftest failed at step ${step} as asked (failAtStep)`)
      const value = selftestValue(step)
      state.nextStep = step + 1
      state.sum += value
      ctx.store.selftest.writeStep(ctx.jobId, step, value, state)
      const done = step + 1 - first
      const perStep = (Date.now() - t0) / 1000 / done
      ctx.progress({
        fraction: (step + 1) / p.steps,
        phase: `step ${step + 1}/${p.steps}`,
        etaSeconds: perStep * (p.steps - step - 1),
        metrics: { step: step + 1, value }
      })
    }
    return { steps: p.steps, sum: state.sum }
  }
})
