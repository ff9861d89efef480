/**
 * 'probe': which compute backend an engine process gets on this machine, and why (fallbacks,
 * native kernels). Run in an engine process so that the Electron main process never loads
 * TensorFlow.js; the `backendInfo` command and the window's start-up self-check answer its
 * result. Not resumable (cheap to redo).
 */
import { probeParams } from '../../../shared/jobs'
import type { BackendReport } from '../../../shared/job-results'
import { defineJob } from './types'

export const probeJob = defineJob({
  kind: 'probe',
  description: 'Chooses the compute backend as every engine process does (FF_BACKEND, FF_THREADS) and reports it.',
  params: probeParams,
  resumable: false,
  async run() {
    const { initBackend } = await import('../../engine/compute')
    return JSON.parse(JSON.stringify(await initBackend())) as BackendReport
  }
})
