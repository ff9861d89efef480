import { describe, expect, it } from 'vitest'
import { ApiCallError, commands, createClient, describeIssues, type Reply, type Transport } from '../../src/shared/api'
import { createDispatcher, createHandlers, createSession } from '../../src/main/host/handlers'
import { tempApp } from '../main/host/helpers'

describe('the contract', () => {
  it('every command has a handler, and nothing else does', () => {
    const app = tempApp()
    try {
      expect(Object.keys(createHandlers(app)).sort()).toEqual(Object.keys(commands).sort())
    } finally {
      void app.cleanup()
    }
  })

  it('request schemas reject unknown fields, wrong types and fill defaults', () => {
    expect(commands.listJobs.request.safeParse({}).data).toEqual({ limit: 200 })
    expect(commands.listJobs.request.safeParse({ limt: 3 }).success).toBe(false)
    expect(commands.getJob.request.safeParse({ id: '../etc' }).success).toBe(false)
    expect(commands.listJobs.request.safeParse({ status: 'done' }).success).toBe(false)
    expect(commands.startJob.request.safeParse({ kind: 'selftest' }).data).toEqual({ kind: 'selftest', params: {} })
  })

  it('createClient calls through any transport and turns an error reply into ApiCallError', async () => {
    const calls: Array<[string, unknown]> = []
    const transport: Transport = {
      async invoke(command, request): Promise<Reply> {
        calls.push([command, request])
        return command === 'getJob'
          ? { ok: false, error: { code: 'not_found', message: 'job job_x not found' } }
          : { ok: true, data: [] }
      },
      on: () => () => undefined
    }
    const api = createClient(transport)
    expect(await api.listDatasets()).toEqual([])
    const err = await api.getJob({ id: 'job_x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ApiCallError)
    expect((err as ApiCallError).toJSON()).toEqual({ code: 'not_found', message: 'job job_x not found' })
    expect(calls).toEqual([
      ['listDatasets', {}],
      ['getJob', { id: 'job_x' }]
    ])
  })

  it('the dispatcher never throws: bad input, unknown commands and handler failures are typed replies', async () => {
    const app = tempApp()
    const session = createSession(() => undefined)
    try {
      const dispatch = createDispatcher({
        ...createHandlers(app),
        workspaceInfo: () => {
          throw new Error('disk on fire')
        }
      })
      expect(await dispatch('workspaceInfo', {}, session)).toEqual({
        ok: false,
        error: { code: 'internal', message: 'disk on fire' }
      })
      expect(await dispatch('__proto__', {}, session)).toMatchObject({ ok: false, error: { code: 'unknown_command' } })
      expect(await dispatch('toString', {}, session)).toMatchObject({ ok: false, error: { code: 'unknown_command' } })
      const bad = await dispatch('listEvaluations', { split: 5, limit: 0 }, session)
      expect(bad.ok).toBe(false)
      const error = (bad as Extract<Reply, { ok: false }>).error
      expect(error.code).toBe('invalid_request')
      expect(error.issues!.map((i) => i.path).sort()).toEqual(['limit', 'split'])
      expect(error.message).toBe(`invalid request for listEvaluations: ${describeIssues(error.issues!)}`)
      expect(await dispatch('listJobs', 'not an object', session)).toMatchObject({
        ok: false,
        error: { code: 'invalid_request' }
      })
    } finally {
      await app.cleanup()
    }
  })

  it('types: a request with a required field cannot be left out; an all-optional one can', () => {
    const api = createClient({ invoke: async () => ({ ok: true, data: null }), on: () => () => undefined })
    // @ts-expect-error getJob needs { id }
    const missing = (): unknown => api.getJob()
    // @ts-expect-error id must be a string
    const wrong = (): unknown => api.getJob({ id: 1 })
    const fine = (): unknown => [api.workspaceInfo(), api.listJobs(), api.listJobs({ status: 'failed' })]
    expect([missing, wrong, fine].every((f) => typeof f === 'function')).toBe(true)
  })
})
