#!/usr/bin/env node
// Runs the command line straight from the TypeScript sources (tsx), so a fresh
// clone needs no build step before `npx fissionfusion ...`.
import { register } from 'tsx/esm/api'

register()
await import('../src/main/cli.ts')
