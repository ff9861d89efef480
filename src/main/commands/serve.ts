/** `serve`: the loopback bridge (contract over WebSocket + the built renderer) until Ctrl-C. */
import { startBridge } from '../bridge'
import { intFlag, type CliCommand } from './types'

export const serveCommand: CliCommand = {
  command: 'serve',
  description: 'Serve the app to a browser on this machine (127.0.0.1, token in the printed URL) until Ctrl-C.',
  options: [intFlag('--port <n>', 'TCP port (default: a free one)')],
  async run(ctx, _args, opts) {
    const app = ctx.app()
    const bridge = await startBridge({ app, port: (opts.port as number | undefined) ?? 0 })
    const info = { url: bridge.url, port: bridge.port, wsUrl: bridge.wsUrl, workspace: app.workspace.dir }
    if (ctx.globals.json) process.stdout.write(JSON.stringify(info) + '\n')
    else ctx.out(`FissionFusion is served at ${bridge.url}\n(workspace ${app.workspace.dir}; Ctrl-C stops)`)
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    ctx.log('stopping...')
    await bridge.close()
    return undefined
  }
}
