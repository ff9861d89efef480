import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { SoupRecord } from '../../../shared/api'
import { api } from '../api'
import { toUiError } from '../errors'
import type { UiError } from '../errors'
import type { SoupTreeInput } from '../soup-tree'

/** How deep hierarchical soups nest (global → group → member). */
const MAX_DEPTH = 4

/** The soups of a run and the hierarchy of the one being looked at. */
export const useFusionStore = defineStore('fusion', () => {
  /** Soups of the run, as listed. */
  const soups = shallowRef<SoupRecord[]>([])
  /** Id of the soup whose tree is shown, or null. */
  const selectedId = ref<string | null>(null)
  /** The selected soup with its ingredients and child soups, or null. */
  const tree = shallowRef<SoupTreeInput | null>(null)
  /** The last loading error, or null. */
  const error = ref<UiError | null>(null)

  /** Loads the soups of run `runId` and the tree of the selected (default: the first global) soup. */
  async function load(runId: string): Promise<void> {
    try {
      soups.value = await api().listSoups({ runId })
      if (!soups.value.some((s) => s.id === selectedId.value)) {
        selectedId.value =
          (soups.value.find((s) => !s.groupKey && s.method !== 'ensemble') ?? soups.value[0])?.id ?? null
      }
      error.value = null
      await loadTree()
    } catch (e) {
      error.value = toUiError('Loading the soups', e)
    }
  }

  async function fetch(id: string, depth: number): Promise<SoupTreeInput> {
    const detail = await api().getSoup({ id })
    const children: Record<string, SoupTreeInput> = {}
    if (depth < MAX_DEPTH) {
      for (const ing of detail.ingredients)
        if (ing.childSoupId) children[ing.childSoupId] = await fetch(ing.childSoupId, depth + 1)
    }
    return { soup: detail.soup, ingredients: detail.ingredients, children }
  }

  /** Loads the selected soup's hierarchy. */
  async function loadTree(): Promise<void> {
    const id = selectedId.value
    if (!id) {
      tree.value = null
      return
    }
    try {
      const t = await fetch(id, 1)
      if (selectedId.value === id) tree.value = t
    } catch (e) {
      error.value = toUiError('Loading the soup hierarchy', e)
    }
  }

  /** Shows soup `id`'s tree. */
  async function select(id: string): Promise<void> {
    selectedId.value = id
    await loadTree()
  }

  return { soups, selectedId, tree, error, load, loadTree, select }
})
