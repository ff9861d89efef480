import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { DatasetRecord, Json } from '../../../shared/api'
import { api } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'

/** Images per split and class, read from a dataset's meta.json (empty when absent). */
export type PerClass = Record<string, Record<string, number>>

/** Reads `perClass` from a dataset's stored meta, keeping only well-formed numbers. */
export function perClassOf(meta: Json): PerClass {
  const out: PerClass = {}
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return out
  const perClass = meta.perClass
  if (!perClass || typeof perClass !== 'object' || Array.isArray(perClass)) return out
  for (const [split, classes] of Object.entries(perClass)) {
    if (!classes || typeof classes !== 'object' || Array.isArray(classes)) continue
    out[split] = {}
    for (const [name, n] of Object.entries(classes))
      if (typeof n === 'number' && Number.isFinite(n)) out[split][name] = n
  }
  return out
}

/** Reads a string or number field of a dataset's stored meta. */
export function metaField(meta: Json, key: string): string | number | undefined {
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return undefined
  const v = meta[key]
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v.join(' × ')
  return undefined
}

/** The workspace's datasets and the one being looked at. */
export const useDatasetsStore = defineStore('datasets', () => {
  /** All datasets, newest first (replaced whole on load: shallow). */
  const list = shallowRef<DatasetRecord[]>([])
  /** Id of the dataset shown in the summary, or null. */
  const selectedId = ref<string | null>(null)
  /** Why the list could not be loaded, or null. */
  const error = ref<UiError | null>(null)
  /** True while loading. */
  const loading = ref(false)

  /** The selected dataset record, or null. */
  const selected = computed(() => list.value.find((d) => d.id === selectedId.value) ?? null)
  /** Datasets ready to train on. */
  const ready = computed(() => list.value.filter((d) => d.status === 'ready'))

  /** Loads the list (keeps the selection if it still exists, else selects the newest). */
  async function load(): Promise<void> {
    loading.value = true
    try {
      list.value = await api().listDatasets({ limit: 200 })
      if (!list.value.some((d) => d.id === selectedId.value)) selectedId.value = list.value[0]?.id ?? null
      error.value = null
    } catch (e) {
      error.value = toUiError('Loading the datasets', e)
    } finally {
      loading.value = false
    }
  }

  /** Shows dataset `id`. */
  function select(id: string): void {
    selectedId.value = id
  }

  return { list, selectedId, selected, ready, error, loading, load, select }
})
