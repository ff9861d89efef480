// Types of eslint/import-walls.js (plain JS so that eslint.config.js loads it without a build step).
import type { ESLint } from 'eslint'

/** One row of the walls table: a layer under src/ and what it may import. */
export interface Layer {
  /** Short name used in messages, in `may` and in docs/ARCHITECTURE.md. */
  id: string
  /** Folders or single files (repository-relative) that make up the layer. */
  paths: string[]
  /** Where the layer's code runs, in a few words. */
  runs: string
  /** Project layers it may import (its own included when it may). */
  may: string[]
  /** npm packages it may import by name (`@scope/*` allows a whole scope). */
  packages: string[]
  /** Whether it may import Node built-ins. */
  node: boolean
}

/** One file allowed through a wall, with its reason. */
export interface WallException {
  file: string
  imports: string
  why: string
}

export type Target =
  | { kind: 'node'; name: string }
  | { kind: 'package'; name: string }
  | { kind: 'layer'; name: string; path: string }
  | { kind: 'outside'; path: string }

export const ROOT: string
export const LAYERS: Layer[]
export const EXCEPTIONS: WallException[]
export function layerOfPath(relPath: string): Layer | undefined
export function resolveSpecifier(specifier: string, fromFile: string): Target
export function describeAllowed(layer: Layer): string
export function violation(layer: Layer, relFile: string, target: Target): string | undefined
export const wallsPlugin: ESLint.Plugin
