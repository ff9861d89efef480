/**
 * Export of one merged model file (ONNX or TF.js) with its model card, and re-import.
 *
 * The ONNX file (opset 13, IR 7) has one input `image`: float32 [N, H, W, C] (NHWC, as the app
 * feeds its models; transposed to NCHW inside the graph), preprocessed as the card's
 * `preprocessing` says: (pixel · scale − mean) / std per channel. Its one output
 * `probabilities` is float32 [N, classes]: softmax rows (single-label) or per-label sigmoids
 * (multi-label), columns in the card's class order. The card is in `metadata_props` (one key
 * per field, objects as JSON) and, as Markdown, in the model's `doc_string`.
 */
export { exportModel, buildCard, weightsSha256, markdownFileFor, ONNX_WEIGHTS_KEY } from './export'
export type { CardInput, ExportFormat, ExportOptions, ExportProgress, ExportResult } from './export'
export { importExportedModel, importOnnx, importTfjs } from './import'
export type { ImportedModel } from './import'
export {
  assertExportSafe,
  cardFromMetadata,
  cardToMarkdown,
  cardToMetadata,
  ModelCardSchema,
  UnsafeCardError,
  unsafeReason
} from './card'
export type { ModelCard, Preprocessing, CardMetric } from './card'
export { convertLayersModel, ExportError } from './onnx/convert'
export { decodeModel } from './onnx/model'
export { tfjsFileHandler, weightsFileFor } from './tfjs'
