import { computed, ref, watch } from 'vue'
import type { WritableComputedRef } from 'vue'

/**
 * A choice the user may make among changing options, with a fallback: it reads the user's
 * choice while `valid` accepts it, else `fallback()`; writing it (v-model) records the choice.
 */
export function useChoice<Id extends string>(
  valid: (id: string) => boolean,
  fallback: () => Id | ''
): WritableComputedRef<Id | ''> {
  const chosen = ref<string>('')
  return computed({
    get: () => (chosen.value && valid(chosen.value) ? (chosen.value as Id) : fallback()),
    set: (id) => {
      chosen.value = id
    }
  })
}

/**
 * Loads what the current choices show: `load(request())` now and whenever the request changes, while it is not null
 * (null: the choices do not make a request yet).
 */
export function useLoad<R>(request: () => R | null, load: (request: R) => Promise<unknown>): void {
  watch(
    request,
    (r) => {
      if (r !== null) void load(r)
    },
    { immediate: true }
  )
}
