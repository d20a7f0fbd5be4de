/** crossrank: the public API. Exports only; each job lives in its own module. */
export {
  BackendUnavailableError,
  CrossrankError,
  CudaError,
  errorFromCode,
  InternalError,
  InvalidArgumentError,
  isCrossrankError,
  ModelLoadError,
  NativeLoadError,
  IndexLoadError,
  OverloadedError,
  DeadlineExceededError,
  PayloadTooLargeError,
  OutOfMemoryError,
  type CrossrankErrorCode,
} from './errors.js';
export { nativeStatus, type NativeStatus } from './native/load.js';
export { doctorReport, formatDoctorReport, type DoctorReport } from './doctor.js';
export { applyScoreHead, parseDevice, type ScoreActivation, type ScoreHeadOptions, type ScoreHeadSpec } from './score-head.js';
export { makeModel, type MakeModelOptions, type MakeModelResult } from './model/make-model.js';
export { exportOnnx, type ExportOnnxOptions, type ExportOnnxResult } from './onnx/export-onnx.js';
export { presetNames, presets, type EncoderShape, type PresetName } from './model/presets.js';
export { parseSafetensorsHeader, writeSafetensors, type SafetensorsHeader } from './model/safetensors.js';
export { packageVersion } from './package-info.js';
export {
  CrossEncoder,
  type CrossEncoderInfo,
  type CrossEncoderOptions,
  type CrossEncoderStats,
  type DetailedScores,
  type ScoreOptions,
  type RankOptions,
  type RankResult,
} from './cross-encoder.js';
export type { DocumentInput } from './documents.js';
export type { Activation, Head } from './model/head.js';
export type { CudaElementType } from './native/binding.js';
export type { TruncationStrategy } from './tokenizer/pair-tokenizer.js';
export { resolveModel, type ResolveOptions, type ResolvedModel } from './hub/resolve.js';
export { hubCacheDir } from './hub/cache-layout.js';
export { DEFAULT_METRICS, evaluate, trecOrder, type EvalOptions, type EvalResult } from './eval/metrics.js';
export { formatRun, parseQrels, parseRun, readQrels, readQueries, readRun, type Qrels, type Run, type RunEntry } from './eval/trec-files.js';
export {
  brierScore,
  calibrate,
  expectedCalibrationError,
  fitCalibrator,
  labelledScores,
  thresholdFor,
  type CalibrationMethod,
  type Calibrator,
} from './eval/calibration.js';
export { applyProfile, fitProfile, loadProfile, saveProfile, type CalibrationProfile } from './eval/calibration-profile.js';
export { loadDataset, type Dataset } from './eval/dataset.js';
export { evaluatePipeline, type PipelineEvalOptions, type PipelineReport } from './eval/pipeline-eval.js';
export { mineNegatives, formatExamples, type MinedExample, type MineOptions } from './eval/mine-negatives.js';
export { Bm25Index, bm25Tokens, type Bm25Options } from './retrieval/bm25.js';
export type { IndexDocument, IndexingRetriever, RetrieveOptions, Retriever, ScoredId } from './retrieval/retriever.js';
export { DocumentStore, matchesFilter, type DocumentFilter, type FilterCondition, type StoredDocument } from './retrieval/document-store.js';
export { HnswRetriever, type HnswOptions } from './retrieval/hnsw.js';
export { HybridRetriever, type HybridOptions } from './retrieval/hybrid.js';
export { RunRetriever } from './retrieval/run-retriever.js';
export { fuseLists, fuseRuns, type FusionMethod, type FusionOptions } from './retrieval/fusion.js';
export { SearchIndex, type CreateIndexOptions, type IndexManifest, type RetrieverKind } from './retrieval/search-index.js';
export { FunctionEmbedder, type EmbedFunction, type Embedder } from './embedding/embedder.js';
export { EncoderEmbedder, type EncoderEmbedderOptions } from './embedding/encoder-embedder.js';
export {
  Pipeline,
  type DocumentSource,
  type PipelineOptions,
  type SearchOptions,
  type SearchResponse,
  type SearchResult,
} from './pipeline/pipeline.js';
export { CostModel, type CostProfile } from './pipeline/cost-model.js';
export type { PassageAggregate, PassageOptions } from './pipeline/passages.js';
export type { Reranker } from './pipeline/reranker.js';
export type { Boost, CascadeStage, MmrStage, RulesStage, Stage } from './pipeline/stages.js';
export { bm25FirstStage, type FirstStage } from './retrieval/first-stage.js';
