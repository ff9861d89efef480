import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type {
  DatasetInspection,
  MethodComparison,
  ModelCurvesReport,
  RequestOf,
  RunEstimate
} from '../../../shared/api'
import { api } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'

/** One request-backed value: the last answer, whether a request is out, and the last error. */
function slot<T>() {
  return { value: shallowRef<T | null>(null), loading: ref(false), error: ref<UiError | null>(null), seq: 0 }
}
type Slot<T> = ReturnType<typeof slot<T>>

/** Runs `request` into `s`; an answer that arrives after a newer request was sent is dropped. */
async function fill<T>(s: Slot<T>, action: string, request: () => Promise<T>): Promise<void> {
  const seq = ++s.seq
  s.loading.value = true
  try {
    const v = await request()
    if (seq !== s.seq) return
    s.value.value = v
    s.error.value = null
  } catch (e) {
    if (seq !== s.seq) return
    s.value.value = null
    s.error.value = toUiError(action, e)
  } finally {
    if (seq === s.seq) s.loading.value = false
  }
}

/**
 * What the engine works out on request: the import source as the importers see it, a model's
 * ROC curves and confusion matrix, a paired comparison of two fusion methods, a plan's estimate.
 */
export const useAnalysisStore = defineStore('analysis', () => {
  const inspection = slot<DatasetInspection>()
  const curves = slot<ModelCurvesReport>()
  const comparison = slot<MethodComparison>()
  const estimate = slot<RunEstimate>()

  return {
    /** The inspected import source, or null. */
    inspection: inspection.value,
    inspecting: inspection.loading,
    inspectionError: inspection.error,
    /** Inspects a file or folder (with column corrections, if any). */
    inspect: (request: RequestOf<'inspectDataset'>) =>
      fill(inspection, 'Reading the chosen files', () => api().inspectDataset(request)),
    /** Forgets the inspection (a new source was chosen). */
    clearInspection(): void {
      inspection.seq++
      inspection.value.value = null
      inspection.error.value = null
      inspection.loading.value = false
    },

    /** Curves of the chosen model, or null. */
    curves: curves.value,
    curvesLoading: curves.loading,
    curvesError: curves.error,
    loadCurves: (runId: string, modelId: string) =>
      fill(curves, 'Loading the ROC curves', () => api().modelCurves({ runId, modelId })),

    /** The last paired comparison, or null. */
    comparison: comparison.value,
    comparing: comparison.loading,
    comparisonError: comparison.error,
    compare: (request: RequestOf<'compareMethods'>) =>
      fill(comparison, 'Comparing the methods', () => api().compareMethods(request)),

    /** The estimate of the plan being set up, or null. */
    estimate: estimate.value,
    estimating: estimate.loading,
    estimateError: estimate.error,
    loadEstimate: (request: RequestOf<'estimateRun'>) =>
      fill(estimate, 'Estimating the run', () => api().estimateRun(request))
  }
})
