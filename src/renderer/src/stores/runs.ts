import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { EvaluationRecord, MetricRecord, RunDetail, RunRecord } from '../../../shared/api'
import { api } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'

/** Fission runs, the selected run with its members and soups, and their metrics. */
export const useRunsStore = defineStore('runs', () => {
  /** All runs, newest first (replaced whole on load: shallow). */
  const list = shallowRef<RunRecord[]>([])
  /** Id of the run being looked at, or null. */
  const selectedId = ref<string | null>(null)
  /** The selected run with its members and soups, or null (replaced whole on load: shallow). */
  const detail = shallowRef<RunDetail | null>(null)
  /** Per-epoch metrics of the selected run's members, by member id (large: shallow). */
  const metrics = shallowRef<Record<string, MetricRecord[]>>({})
  /** Evaluations of the selected run's members and soups (large: shallow). */
  const evaluations = shallowRef<EvaluationRecord[]>([])
  /** The last loading error, or null. */
  const error = ref<UiError | null>(null)

  /** The selected run record, or null. */
  const selected = computed(() => list.value.find((r) => r.id === selectedId.value) ?? null)

  /** Loads the run list; keeps or picks a selection and loads its detail. */
  async function load(): Promise<void> {
    try {
      list.value = await api().listRuns({ limit: 200 })
      if (!list.value.some((r) => r.id === selectedId.value)) selectedId.value = list.value[0]?.id ?? null
      error.value = null
      if (selectedId.value) await loadDetail()
      else detail.value = null
    } catch (e) {
      error.value = toUiError('Loading the runs', e)
    }
  }

  /** Loads the selected run's members, soups, metrics and evaluations. */
  async function loadDetail(): Promise<void> {
    const id = selectedId.value
    if (!id) return
    try {
      const run = await api().getRun({ id })
      const perMember = await Promise.all(run.members.map((m) => api().listMetrics({ memberId: m.id })))
      const evals = await api().listEvaluations({ runId: id, limit: 10000 })
      if (selectedId.value !== id) return
      detail.value = run
      metrics.value = Object.fromEntries(run.members.map((m, i) => [m.id, perMember[i]]))
      evaluations.value = evals
      error.value = null
    } catch (e) {
      error.value = toUiError('Loading the run', e)
    }
  }

  /** Shows run `id`. */
  async function select(id: string): Promise<void> {
    selectedId.value = id
    await loadDetail()
  }

  return { list, selectedId, selected, detail, metrics, evaluations, error, load, loadDetail, select }
})
