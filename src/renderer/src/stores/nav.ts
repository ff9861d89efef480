import { defineStore } from 'pinia'
import { ref } from 'vue'

/** The views of the app, in navigation order. */
export const VIEWS = [
  { id: 'datasets', title: 'Datasets' },
  { id: 'new-run', title: 'New run' },
  { id: 'training', title: 'Training' },
  { id: 'members', title: 'Members' },
  { id: 'fusion', title: 'Fusion' },
  { id: 'ood', title: 'Out-of-distribution' },
  { id: 'export', title: 'Export' }
] as const

/** Id of a view. */
export type ViewId = (typeof VIEWS)[number]['id']

/** Whether `id` names a view. */
export function isViewId(id: string): id is ViewId {
  return VIEWS.some((v) => v.id === id)
}

/** Which view is shown; mirrored in the URL hash (#/fusion) so reloads keep the place. */
export const useNavStore = defineStore('nav', () => {
  /** The view on screen. */
  const current = ref<ViewId>('datasets')

  /** Shows a view and records it in the URL hash. */
  function go(id: ViewId): void {
    current.value = id
    if (typeof location !== 'undefined' && location.hash !== `#/${id}`) location.hash = `#/${id}`
  }

  /** Follows the URL hash (on start and on back/forward). */
  function fromHash(hash: string): void {
    const id = hash.replace(/^#\/?/, '')
    if (isViewId(id)) current.value = id
  }

  return { current, go, fromHash }
})
