/** The two IPC channels the contract travels on (shared by the preload and src/main/ipc.ts). */
export const IPC_CHANNELS = {
  /** renderer → main: `invoke(INVOKE, commandName, request)` answers a `Reply`. */
  invoke: 'ff:invoke',
  /** main → renderer: `send(EVENT, eventName, payload)`. */
  event: 'ff:event'
} as const
