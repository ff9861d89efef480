/**
 * The model card: what an exported model is, how to feed it, how it was made and how well it
 * did. Stored inside the ONNX file as `metadata_props` (one key per top-level field), inside a
 * TF.js model.json as `userDefinedMetadata`, and optionally as a Markdown file beside either.
 * It never holds patient data or local paths: {@link assertExportSafe} refuses them.
 */
import { z } from 'zod'
import { RESEARCH_USE_STATEMENT } from '../../../shared/notices'

const hyperparameter = z.union([z.string(), z.number(), z.boolean(), z.null()])

/** Input preprocessing: input = (pixel · scale − mean) / std, per channel, on an NHWC float32 batch. */
export const PreprocessingSchema = z.object({
  /** Image height and width in pixels the model takes (resize to this first). */
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  /** Channels: 1 (gray) or 3 (RGB, gray images repeated). */
  channels: z.union([z.literal(1), z.literal(3)]),
  /** Memory layout of the input tensor: float32 [N, height, width, channels]. */
  layout: z.literal('NHWC'),
  /** Factor from stored pixel values (0–255) to [0, 1]: 1/255. */
  scale: z.number().positive(),
  /** Per-channel mean subtracted after scaling, in [0, 1]. */
  mean: z.array(z.number()),
  /** Per-channel standard deviation divided by after the mean, > 0. */
  std: z.array(z.number().positive())
})

/** One reported metric. */
export const MetricSchema = z.object({
  /** Where it was measured: "val", "test", or "ood:<set name>". */
  split: z.string(),
  /** Metric name (acc, f1, recall, kappa, auc, ...). */
  metric: z.string(),
  /** Value (rates in [0, 1], kappa in [−1, 1]). */
  value: z.number(),
  /** Bootstrap 95% confidence interval [low, high], when computed. */
  ci95: z.tuple([z.number(), z.number()]).optional(),
  /** Images it was measured on. */
  n: z.number().int().nonnegative().optional()
})

/** One model that went into the exported one. */
export const IngredientSchema = z.object({
  /** Member (or soup) id in the app. */
  id: z.string(),
  /** Its hyperparameters (lr, seed, augmentation, epochs, ...). */
  hyperparameters: z.record(z.string(), hyperparameter)
})

/** The model card. */
export const ModelCardSchema = z.object({
  /** Card format version. */
  cardVersion: z.literal(1),
  /** Version of FissionFusion Workstation that wrote the file. */
  appVersion: z.string(),
  /** Model name shown to the user ("GoG soup", "member 12"). */
  modelName: z.string(),
  /** What the model may be used for: research only, not a medical device (cards written before 0.2 lack it). */
  intendedUse: z.string().default(RESEARCH_USE_STATEMENT),
  /** Creation time, ISO 8601 UTC. */
  createdAt: z.string(),
  /** Architecture registry key and build options: enough to rebuild the network. */
  architecture: z.object({
    name: z.string(),
    options: z.object({
      widthMultiplier: z.number().positive().optional(),
      stem: z.enum(['small', 'imagenet']).optional(),
      /** ViT dimensions (architecture `vit`). */
      vit: z
        .object({
          patch: z.number().int().positive(),
          hidden: z.number().int().positive(),
          layers: z.number().int().positive(),
          heads: z.number().int().positive(),
          mlp: z.number().int().positive()
        })
        .partial()
        .optional()
    })
  }),
  /** The dataset it was trained on: name, task and class (or label) names in output order. */
  dataset: z.object({ name: z.string(), task: z.enum(['single', 'multilabel']), classes: z.array(z.string()).min(1) }),
  preprocessing: PreprocessingSchema,
  /** Output: the name of the graph output and how it turns logits into probabilities. */
  output: z.object({ name: z.string(), activation: z.enum(['softmax', 'sigmoid']) }),
  /** How the model was made: "member", "uniform soup", "greedy soup", "GoG", ... and from what. */
  method: z.object({ kind: z.string(), description: z.string().optional(), ingredients: z.array(IngredientSchema) }),
  /** Validation, test and OOD metrics with confidence intervals. */
  metrics: z.array(MetricSchema),
  /**
   * SHA-256 (hex) of the weights: float32 little-endian values of every weight, concatenated in
   * layer order (the bytes of a checkpoint's weights.bin).
   */
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/)
})

/** The model card. */
export type ModelCard = z.infer<typeof ModelCardSchema>
/** Preprocessing of the input. */
export type Preprocessing = z.infer<typeof PreprocessingSchema>
/** One reported metric. */
export type CardMetric = z.infer<typeof MetricSchema>

/** A card value that is not exportable, naming the field. */
export class UnsafeCardError extends Error {
  override name = 'UnsafeCardError'
}

// An absolute path or file URL anywhere in a string: POSIX (/x/…, ~/…), Windows (C:\, C:/), UNC (\\host\).
const PATH_PATTERNS: [RegExp, string][] = [
  [/(^|[\s"'`(<[{=:,;])(\/|~\/)[^\s/]+/, 'an absolute POSIX path'],
  [/(^|[^A-Za-z0-9])[A-Za-z]:[\\/]/, 'a Windows drive path'],
  [/\\\\[^\\\s]+\\/, 'a UNC network path'],
  [/\bfile:\/\//i, 'a file URL'],
  // DICOM UIDs (study / series / instance) identify a patient's examination.
  [/(^|\D)\d+(\.\d+){5,}(\D|$)/, 'a DICOM UID']
]

/** Why a string cannot go into an export, or null when it can. */
export function unsafeReason(s: string): string | null {
  for (const [re, what] of PATH_PATTERNS) if (re.test(s)) return `looks like ${what}`
  return null
}

/**
 * Throws {@link UnsafeCardError} when any string in `value` (keys included) looks like a local
 * path, a file URL or a DICOM UID, or equals one of `forbidden` (e.g. patient tag values known
 * to the caller). The message names the field, not the value.
 */
export function assertExportSafe(value: unknown, field = 'card', forbidden: readonly string[] = []): void {
  const banned = forbidden.filter((f) => f.trim().length > 0)
  const check = (s: string, where: string) => {
    const reason =
      unsafeReason(s) ??
      (banned.some((f) => s.includes(f))
        ? 'contains a value from the source data that must not leave the workstation'
        : null)
    if (reason) throw new UnsafeCardError(`${where} ${reason}; local paths and patient data are never exported`)
  }
  const walk = (v: unknown, where: string): void => {
    if (typeof v === 'string') check(v, `field "${where}"`)
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`))
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        check(k, `a key in "${where}"`)
        walk(x, `${where}.${k}`)
      }
    }
  }
  walk(value, field)
}

const STRING_FIELDS = new Set([
  ...Object.entries(ModelCardSchema.shape)
    .filter(([, s]) => s instanceof z.ZodString)
    .map(([k]) => k),
  'intendedUse'
])
/** Fields a card may lack (older versions): the schema's default applies. */
const DEFAULTED_FIELDS = new Set(['intendedUse'])

/** The card as `metadata_props` entries: one key per field, strings as is, the rest as JSON. */
export function cardToMetadata(card: ModelCard): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(ModelCardSchema.parse(card)))
    out[k] = STRING_FIELDS.has(k) ? String(v) : JSON.stringify(v)
  return out
}

/** Reads a card back from `metadata_props`; a missing or malformed field is an error naming it. */
export function cardFromMetadata(meta: Record<string, string>): ModelCard {
  const raw: Record<string, unknown> = {}
  for (const k of Object.keys(ModelCardSchema.shape)) {
    const v = meta[k]
    if (v === undefined && DEFAULTED_FIELDS.has(k)) continue
    if (v === undefined) throw new Error(`model card field "${k}" is missing (not a FissionFusion export?)`)
    try {
      raw[k] = STRING_FIELDS.has(k) ? v : JSON.parse(v)
    } catch {
      throw new Error(`model card field "${k}" is not valid JSON`)
    }
  }
  const parsed = ModelCardSchema.safeParse(raw)
  if (!parsed.success)
    throw new Error(`model card: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return parsed.data
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4)
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The card as a readable Markdown document. */
export function cardToMarkdown(card: ModelCard): string {
  const p = card.preprocessing
  const lines = [
    `# ${card.modelName}`,
    '',
    `Exported by FissionFusion Workstation ${card.appVersion} on ${card.createdAt}.`,
    '',
    `**${card.intendedUse}**`,
    '',
    '## Model',
    '',
    `- Architecture: ${card.architecture.name}${Object.keys(card.architecture.options).length ? ` (${JSON.stringify(card.architecture.options)})` : ''}`,
    `- Output \`${card.output.name}\`: ${card.output.activation === 'softmax' ? 'class probabilities (softmax, rows sum to 1)' : 'per-label probabilities (sigmoid)'}, columns in class order below`,
    `- Weights SHA-256: \`${card.weightsSha256}\``,
    '',
    '## Dataset',
    '',
    `- Name: ${card.dataset.name}`,
    `- Task: ${card.dataset.task === 'single' ? 'single-label classification' : 'multi-label classification'}`,
    `- Classes (output order): ${card.dataset.classes.map((c, i) => `${i}: ${c}`).join(', ')}`,
    '',
    '## Input preprocessing',
    '',
    `1. Resize to ${p.size[0]} × ${p.size[1]} pixels, ${p.channels === 1 ? '1 channel (gray)' : '3 channels (RGB; gray images repeated)'}.`,
    `2. input = (pixel · ${fmt(p.scale)} − mean) / std with mean [${p.mean.map(fmt).join(', ')}], std [${p.std.map(fmt).join(', ')}] per channel.`,
    `3. Feed float32 [N, ${p.size[0]}, ${p.size[1]}, ${p.channels}] (${p.layout}).`,
    '',
    '## Method',
    '',
    `${card.method.kind}${card.method.description ? `: ${card.method.description}` : ''}`,
    '',
    `Ingredients (${card.method.ingredients.length}):`,
    '',
    ...card.method.ingredients.map(
      (g) =>
        `- ${g.id}: ${Object.entries(g.hyperparameters)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(', ')}`
    ),
    '',
    '## Metrics',
    '',
    '| split | metric | value | 95% CI | n |',
    '| --- | --- | --- | --- | --- |',
    ...card.metrics.map(
      (m) =>
        `| ${cell(m.split)} | ${cell(m.metric)} | ${fmt(m.value)} | ${m.ci95 ? `${fmt(m.ci95[0])}–${fmt(m.ci95[1])}` : '—'} | ${m.n ?? '—'} |`
    ),
    ''
  ]
  return lines.join('\n')
}
