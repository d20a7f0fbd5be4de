/**
 * CrossEncoder: load a Hugging Face cross-encoder and score or rank documents for queries.
 *
 *   const model = await CrossEncoder.load('cross-encoder/ms-marco-MiniLM-L-6-v2');
 *   const ranked = await model.rank('what is a cross-encoder', docs, { topN: 10 });
 *
 * Pipeline per call: pair tokenization (native WordPiece, or HF tokenizers), length-aware
 * batches by token budget, the backend's raw logits, then the score head once.
 */
import { join } from 'node:path';

import { BackendUnavailableError, InvalidArgumentError, ModelLoadError } from './errors.js';
import { Qwen3RerankerTokenizer } from './llm/llm-pair-tokenizer.js';
import { Qwen3PromptTokenizer } from './llm/qwen3-reranker-prompt.js';
import type { Backend } from './backends/backend.js';
import { NativeBackend } from './backends/native-backend.js';
import { NativeDecoderBackend } from './backends/native-decoder-backend.js';
import { cudaGeluSetting, cudaGemmSetting, cudaLinearEngine, geluFor, type CudaGelu, type CudaLinearEngine } from './backends/cuda-linear-engine.js';
import { DEFAULT_PRECISION, parsePrecision } from './backends/precision.js';
import { BatchScheduler, type BatchEvent } from './batch-scheduler.js';
import { checkQuery, documentTexts, type DocumentInput } from './documents.js';
import { calibrate } from './eval/calibration.js';
import { loadProfile, type CalibrationProfile } from './eval/calibration-profile.js';
import { isBareEncoder } from './model/encoder-config.js';
import { headSpec, parseActivation, resolveHead, trueFalseHead, type Activation, type Head } from './model/head.js';
import { decoderCacheShape } from './model/decoder-config.js';
import { modelMaxLength, readModelConfig, type ModelConfig } from './model/model-config.js';
import type { CudaElementType } from './native/binding.js';
import { defaultBackend, onnxModelPath, weightFilesFor, type OnnxChoice } from './model/model-files.js';
import { resolveModel, type ResolveOptions } from './hub/resolve.js';
import { applyScoreHead } from './score-head.js';
import { createPairTokenizer, parseTruncation, type PairTokenizer, type TruncationStrategy } from './tokenizer/pair-tokenizer.js';
import { readTokenizerSpec } from './tokenizer/tokenizer-spec.js';
import { withLoadProgress, type LoadProgressCallback } from './util/load-progress.js';

export interface CrossEncoderOptions extends ResolveOptions, OnnxChoice {
  /**
   * 'onnx' (ONNX Runtime) or 'native' (crossrank's own engine, model.safetensors). Default:
   * 'onnx' where the model has an ONNX export, else 'native' where it has safetensors weights
   * (e.g. the official Qwen3-Reranker repositories).
   */
  backend?: 'onnx' | 'native';
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: string;
  /** Longest pair in tokens, special tokens included (default: the model's limit). */
  maxLength?: number;
  /**
   * Tokens per backend batch (default: 1024 on CPU, 16384 on CUDA): padded (rows x longest)
   * on ONNX Runtime; real tokens on the native engine, which packs rows without padding.
   */
  batchTokens?: number;
  /** Override the head's activation: 'none' (raw logit), 'sigmoid', 'softmax'. */
  activation?: Activation;
  /** 'longest_first' (default, as sentence-transformers) or 'only_second'. */
  truncation?: TruncationStrategy;
  /** LLM rerankers (Qwen3-Reranker): the task instruction of the prompt (default: web search). */
  instruction?: string;
  /**
   * LLM rerankers: run each query's prompt prefix once and reuse its key/value cache for
   * every document (default true). Scores equal the unshared computation within rounding
   * (1e-4 on the CPU; 16-bit rounding on CUDA). The native engine always can; ONNX Runtime
   * where the graph has key/value cache inputs and outputs (`past_key_values.*`,
   * `present.*`, as `crossrank export-onnx` writes them and the public exports made for
   * generation have them). Asking for it on a graph without them is an InvalidArgumentError.
   */
  sharePrefix?: boolean;
  /**
   * The native CUDA engine's 16-bit type for weight matrices and activations (fp32
   * accumulation either way; biases, norms and an LLM reranker's residual stream and answer
   * rows stay fp32). 'fp16' keeps 3 more mantissa bits, but an activation past 65,504
   * overflows (reported as a CudaError, never as a NaN score); 'bf16' has fp32's range.
   * Defaults: 'fp16' for cross-encoders (BERT-family activations stay well inside it),
   * 'bf16' for LLM rerankers (the type Qwen3 checkpoints are trained and shipped in). Refused
   * elsewhere: the CPU paths compute in fp32.
   */
  precision?: CudaElementType;
  /**
   * The native engine: called after each layer of model.safetensors is read and converted
   * (an LLM reranker's weights take seconds to minutes). Default: a progress bar on stderr
   * when it is a terminal, as downloads have.
   */
  onLoadProgress?: LoadProgressCallback;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /**
   * How long the first of several concurrent calls waits for others to share its batches
   * (default 0: calls made in the same turn of the event loop are merged).
   */
  maxWaitMs?: number;
  /**
   * A calibration profile (path or object, see `crossrank calibrate`) applied to every
   * score, turning it into a probability of relevance. A warning is emitted when the
   * profile was fitted for another model or activation.
   */
  calibration?: string | CalibrationProfile;
}

export interface RankOptions {
  /** Keep the best N (default: all). */
  topN?: number;
  /** Keep scores >= threshold. */
  threshold?: number;
  /** Include the document itself in each result. */
  returnDocuments?: boolean;
}

export interface RankResult<D = DocumentInput> {
  index: number;
  score: number;
  document?: D;
}

export interface ScoreOptions {
  /** Aborting rejects the call with the signal's reason and drops its rows not yet run. */
  signal?: AbortSignal;
  /** The raw logit (of the positive label), without the head's activation or calibration. */
  raw?: boolean;
}

/** Scores with, per document, whether its pair was cut to fit maxLength. */
export interface DetailedScores {
  scores: Float32Array;
  truncated: Uint8Array;
}

export interface CrossEncoderStats {
  /** Scoring calls (score, scorePairs, rank, ...). */
  requests: number;
  /** Backend batches run; fewer than requests when concurrent calls were merged. */
  batches: number;
  /** Pairs scored. */
  rows: number;
  /** Calls abandoned through their AbortSignal. */
  aborted: number;
}

export interface CrossEncoderInfo {
  model: string;
  dir: string;
  revision?: string;
  backend: 'onnx' | 'native';
  device: string;
  /** The native CUDA engine's 16-bit type; absent on the CPU paths, which compute in fp32. */
  precision?: CudaElementType;
  /** The native CUDA engine's linear-layer engine (CROSSRANK_CUDA_GEMM; see backends/cuda-linear-engine.ts). */
  linearLayers?: CudaLinearEngine;
  /** Encoders on the native CUDA engine: exact GELU, or cuBLASLt's tanh approximation (CROSSRANK_CUDA_GELU=tanh). */
  gelu?: CudaGelu;
  /** LLM rerankers: whether each query's prompt prefix runs once for all its documents. */
  sharesPrefixes?: boolean;
  maxLength: number;
  head: Head;
  tokenizer: PairTokenizer['kind'];
  config: Pick<ModelConfig, 'architecture' | 'modelType' | 'numLabels'>;
}

// On CPU small batches win: attention scores of a large batch overflow the caches, and
// short rows wait less on long ones (bench/RESULTS.md, the batch-tokens sweep). GPUs want
// large batches to fill the device.
const DEFAULT_BATCH_TOKENS = { cpu: 1024, cuda: 16_384 };
const PAIRS_PER_CHUNK = 256;

function positiveInteger(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** Whether a load runs on the native CUDA engine, where `precision` means something. */
function nativeCuda(backendName: 'onnx' | 'native', device: string | undefined): boolean {
  return backendName === 'native' && (device ?? 'cpu').startsWith('cuda');
}

/** An encoder's info on the native CUDA engine, once it has loaded (cuBLASLt is asked only then). */
async function cudaEncoderInfo(precision: CudaElementType, gemm: ReturnType<typeof cudaGemmSetting>, gelu: CudaGelu) {
  const linearLayers = await cudaLinearEngine('encoder', gemm);
  return { precision, linearLayers, gelu: geluFor(linearLayers, gelu) };
}

export class CrossEncoder {
  readonly info: CrossEncoderInfo;
  readonly #backend: Backend;
  readonly #tokenizer: PairTokenizer;
  readonly #scheduler: BatchScheduler;
  readonly #truncation: TruncationStrategy;
  readonly #calibration: CalibrationProfile | undefined;
  #disposed = false;
  #requests = 0;
  readonly #inFlight = new Set<Promise<unknown>>();

  private constructor(
    info: CrossEncoderInfo,
    backend: Backend,
    tokenizer: PairTokenizer,
    batchTokens: number,
    maxWaitMs: number,
    truncation: TruncationStrategy,
    calibration: CalibrationProfile | undefined,
  ) {
    this.info = info;
    this.#backend = backend;
    this.#tokenizer = tokenizer;
    // Concurrent calls share backend batches (see batch-scheduler.ts).
    this.#scheduler = new BatchScheduler(backend, tokenizer.padId, { batchTokens, maxWaitMs });
    this.#truncation = truncation;
    this.#calibration = calibration;
  }

  static async load(idOrDir: string, options: CrossEncoderOptions = {}): Promise<CrossEncoder> {
    if (typeof idOrDir !== 'string' || idOrDir.length === 0) throw new InvalidArgumentError('model must be a hub id or a directory');
    const explicitBackend = options.backend;
    if (explicitBackend !== undefined && explicitBackend !== 'onnx' && explicitBackend !== 'native') {
      throw new InvalidArgumentError(`backend must be 'onnx' or 'native', got ${JSON.stringify(explicitBackend)}`);
    }
    const truncation = parseTruncation(options.truncation);
    const activation = parseActivation(options.activation);
    const batchTokens =
      positiveInteger(options.batchTokens, 'batchTokens') ??
      (options.device?.startsWith('cuda') ? DEFAULT_BATCH_TOKENS.cuda : DEFAULT_BATCH_TOKENS.cpu);
    const requestedMax = positiveInteger(options.maxLength, 'maxLength');
    if (requestedMax !== undefined && requestedMax < 4) throw new InvalidArgumentError('maxLength must be at least 4');
    const maxWaitMs = options.maxWaitMs ?? 0;
    if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
      throw new InvalidArgumentError(`maxWaitMs must be a number >= 0, got ${maxWaitMs}`);
    }
    if (options.onLoadProgress !== undefined && typeof options.onLoadProgress !== 'function') {
      throw new InvalidArgumentError('onLoadProgress must be a function');
    }

    const calibration = typeof options.calibration === 'string' ? loadProfile(options.calibration) : options.calibration;

    const resolved = await resolveModel(idOrDir, { ...options, files: weightFilesFor(explicitBackend, options) });
    const backendName = explicitBackend ?? defaultBackend(resolved.dir, options);
    const config = readModelConfig(resolved.dir);
    if (/ForCausalLM$/.test(config.architecture)) {
      return CrossEncoder.#loadDecoder(idOrDir, resolved, config, options, { backendName, activation, batchTokens, requestedMax, maxWaitMs, calibration });
    }
    if (options.instruction !== undefined) throw new InvalidArgumentError('instruction applies to LLM rerankers (Qwen3-Reranker) only');
    if (options.sharePrefix !== undefined) throw new InvalidArgumentError('sharePrefix applies to LLM rerankers (Qwen3-Reranker) only');
    if (isBareEncoder(config.architecture)) {
      throw new ModelLoadError(`${idOrDir} is an embedding model (${config.architecture}), not a cross-encoder; load it with EncoderEmbedder`);
    }
    const head = resolveHead(config, activation);
    const limit = modelMaxLength(resolved.dir, config);
    const maxLength = Math.min(requestedMax ?? limit, config.maxPositions);
    const tokenizer = createPairTokenizer(readTokenizerSpec(resolved.dir));
    const precision = parsePrecision(options.precision, nativeCuda(backendName, options.device), DEFAULT_PRECISION.encoder);
    const gemm = nativeCuda(backendName, options.device) ? cudaGemmSetting() : undefined;
    const geluSetting = gemm ? cudaGeluSetting() : undefined;

    // ONNX Runtime is loaded only when used: the native engine runs without it installed.
    const backend: Backend =
      backendName === 'onnx'
        ? await (await import('./backends/onnx-backend.js')).OnnxBackend.create(onnxModelPath(resolved.dir, options), head.numLabels, {
            device: options.device,
            threads: options.threads,
          })
        : await withLoadProgress(idOrDir, options.onLoadProgress, (onProgress) =>
            NativeBackend.create(resolved.dir, config, { device: options.device, threads: options.threads, precision, onProgress }),
          );
    const info: CrossEncoderInfo = {
      model: idOrDir,
      dir: resolved.dir,
      revision: resolved.revision,
      backend: backendName,
      device: backend.device,
      ...(gemm && geluSetting ? await cudaEncoderInfo(precision, gemm, geluSetting) : {}),
      maxLength,
      head,
      tokenizer: tokenizer.kind,
      config: { architecture: config.architecture, modelType: config.modelType, numLabels: config.numLabels },
    };
    if (calibration?.model) {
      const { id, revision, activation: fitted } = calibration.model;
      if (id !== idOrDir || (revision && revision !== resolved.revision) || (fitted && fitted !== head.activation)) {
        process.emitWarning(
          `calibration profile was fitted for ${id}${revision ? `@${revision}` : ''}${fitted ? ` (${fitted})` : ''}, ` +
            `this is ${idOrDir}${resolved.revision ? `@${resolved.revision}` : ''} (${head.activation})`,
          { code: 'CROSSRANK_CALIBRATION_MISMATCH' },
        );
      }
    }
    return new CrossEncoder(info, backend, tokenizer, batchTokens, maxWaitMs, truncation, calibration);
  }

  /**
   * A decoder reranker (Qwen3-Reranker family): the prompt of its model card, the ONNX export
   * (full vocabulary or trimmed to yes/no) or the native decoder (model.safetensors, prompt
   * prefixes shared per query), and the true/false head — softmax over the
   * "yes" and "no" logits at the last position, the probability of "yes".
   */
  static async #loadDecoder(
    idOrDir: string,
    resolved: { dir: string; revision?: string },
    config: ModelConfig,
    options: CrossEncoderOptions,
    o: { backendName: 'onnx' | 'native'; activation?: Activation; batchTokens: number; requestedMax?: number; maxWaitMs: number; calibration?: CalibrationProfile },
  ): Promise<CrossEncoder> {
    if (config.modelType !== 'qwen3') throw new ModelLoadError(`${idOrDir}: decoder rerankers of the Qwen3 family are supported; this is ${config.modelType}`);
    const prompt = Qwen3PromptTokenizer.fromFile(join(resolved.dir, 'tokenizer.json'));
    const tokenizer = new Qwen3RerankerTokenizer(prompt, options.instruction);
    const base = trueFalseHead(prompt.yesId, prompt.noId);
    if (o.activation === 'sigmoid') throw new InvalidArgumentError('a yes/no head takes softmax (default) or none (the raw "yes" logit)');
    const head: Head = o.activation ? { ...base, activation: o.activation } : base;
    // The model card's length; the position table allows far more, at a quadratic cost.
    const maxLength = Math.min(o.requestedMax ?? 8192, config.maxPositions);
    const answerIds: [number, number] = [prompt.yesId, prompt.noId];
    const precision = parsePrecision(options.precision, nativeCuda(o.backendName, options.device), DEFAULT_PRECISION.decoder);
    const gemm = nativeCuda(o.backendName, options.device) ? cudaGemmSetting() : undefined;
    const backend: Backend =
      o.backendName === 'native'
        ? await withLoadProgress(idOrDir, options.onLoadProgress, (onProgress) =>
            NativeDecoderBackend.create(resolved.dir, config, answerIds, {
              device: options.device,
              threads: options.threads,
              sharePrefix: options.sharePrefix,
              precision,
              onProgress,
            }),
          )
        : await (await import('./backends/onnx-decoder-backend.js')).OnnxDecoderBackend.create(onnxModelPath(resolved.dir, options), {
            device: options.device,
            threads: options.threads,
            answerIds,
            sharePrefix: options.sharePrefix,
            ...decoderCacheShape(config, join(resolved.dir, 'config.json')),
          });
    const info: CrossEncoderInfo = {
      model: idOrDir,
      dir: resolved.dir,
      revision: resolved.revision,
      backend: o.backendName,
      device: backend.device,
      ...(gemm ? { precision, linearLayers: await cudaLinearEngine('decoder', gemm) } : {}),
      sharesPrefixes: backend.sharesPrefixes ?? false,
      maxLength,
      head,
      tokenizer: tokenizer.kind,
      config: { architecture: config.architecture, modelType: config.modelType, numLabels: 2 },
    };
    return new CrossEncoder(info, backend, tokenizer, o.batchTokens, o.maxWaitMs, 'longest_first', o.calibration);
  }

  /** One score per document for the query, in document order. */
  async score(query: string, docs: readonly DocumentInput[]): Promise<Float32Array> {
    return (await this.scoreDetailed(query, docs)).scores;
  }

  /**
   * Scores, and which documents were truncated to fit the model's length. With `signal`,
   * aborting rejects the call with the signal's reason and drops its rows not yet run.
   */
  async scoreDetailed(query: string, docs: readonly DocumentInput[], options: ScoreOptions = {}): Promise<DetailedScores> {
    const texts = documentTexts(docs);
    checkQuery(query);
    return this.#track(this.#scoreTexts([query], texts, new Int32Array(texts.length), Int32Array.from(texts.keys()), options));
  }

  /** Tokens each text takes as a document (special tokens excluded); cached like scoring. */
  async countTokens(texts: readonly string[]): Promise<Int32Array> {
    if (this.#disposed) throw new InvalidArgumentError('this CrossEncoder has been disposed');
    return this.#tokenizer.countTokens(documentTexts(texts));
  }

  /** Calls, backend batches and pairs so far (shows how much concurrent calls were merged). */
  get stats(): CrossEncoderStats {
    const s = this.#scheduler.stats;
    return { requests: this.#requests, batches: s.batches, rows: s.rows, aborted: s.aborted };
  }

  /** Calls `listener` after every backend batch (rows, tokens, milliseconds); returns the unsubscribe function. */
  onBatch(listener: (batch: BatchEvent) => void): () => void {
    return this.#scheduler.onBatch(listener);
  }

  /**
   * The backend's current load: tokens waiting to be scored (a new call waits behind them)
   * and the recent backend time per token. The pipeline's latency planner reads this.
   */
  load(): { pendingTokens: number; msPerToken: number } {
    return { pendingTokens: this.#scheduler.pendingTokens(), msPerToken: this.#scheduler.stats.msPerToken };
  }

  /** One score per (query, document) pair. */
  async scorePairs(pairs: readonly (readonly [string, DocumentInput])[]): Promise<Float32Array> {
    if (!Array.isArray(pairs)) throw new InvalidArgumentError('pairs must be an array of [query, document]');
    const queries: string[] = [];
    const queryIndex = new Map<string, number>();
    const pairQuery = new Int32Array(pairs.length);
    const docs: DocumentInput[] = [];
    pairs.forEach((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidArgumentError(`pairs[${i}] must be [query, document]`);
      const q = checkQuery(pair[0], `pairs[${i}][0]`);
      if (!queryIndex.has(q)) queryIndex.set(q, queries.push(q) - 1);
      pairQuery[i] = queryIndex.get(q)!;
      docs.push(pair[1]);
    });
    const texts = documentTexts(docs, 'pair documents');
    return (await this.#track(this.#scoreTexts(queries, texts, pairQuery, Int32Array.from(texts.keys())))).scores;
  }

  /** Documents sorted by score, best first (ties keep input order). */
  async rank<D extends DocumentInput>(query: string, docs: readonly D[], options: RankOptions = {}): Promise<RankResult<D>[]> {
    const topN = positiveInteger(options.topN, 'topN');
    if (options.threshold !== undefined && !Number.isFinite(options.threshold)) {
      throw new InvalidArgumentError(`threshold must be a finite number, got ${options.threshold}`);
    }
    const scores = await this.score(query, docs);
    let results: RankResult<D>[] = Array.from(scores, (score, index) => ({ index, score }));
    results.sort((a, b) => b.score - a.score || a.index - b.index);
    if (options.threshold !== undefined) results = results.filter((r) => r.score >= options.threshold!);
    if (topN !== undefined) results = results.slice(0, topN);
    if (options.returnDocuments) for (const r of results) r.document = docs[r.index];
    return results;
  }

  /** Releases the backend once calls in flight have finished; later calls throw. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#backend.dispose();
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const done = () => this.#inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  async #scoreTexts(queries: string[], docs: string[], pairQuery: Int32Array, pairDoc: Int32Array, options: ScoreOptions = {}): Promise<DetailedScores> {
    if (this.#disposed) throw new InvalidArgumentError('this CrossEncoder has been disposed');
    const signal = options.signal;
    signal?.throwIfAborted();
    this.#requests++;
    const rows = pairQuery.length;
    const labels = this.#backend.numLabels;
    const logits = new Float32Array(rows * labels);
    const truncated = new Uint8Array(rows);
    // Chunks bound the synchronous work between awaits (pair assembly, batch planning),
    // so a call with many thousands of pairs never holds the event loop for long. Each
    // chunk is queued as soon as it is tokenized, so the next one tokenizes while the
    // backend scores it (a GPU then waits for the first chunk's tokens only).
    // Whatever fails, the call settles only after every queued chunk has (dispose() waits for
    // calls, so none of their batches may outlive it). A chunk's promise records its failure
    // instead of rejecting: it can fail (an abort, a backend error) while a later chunk is
    // still tokenizing, before anything awaits it, and Node reports such a rejection as unhandled.
    const scored: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    let chunkFailure: { error: unknown } | undefined;
    try {
      for (let start = 0; start < rows && !chunkFailure; start += PAIRS_PER_CHUNK) {
        signal?.throwIfAborted(); // an abandoned call tokenizes no further chunks
        const end = Math.min(rows, start + PAIRS_PER_CHUNK);
        const pairs = await this.#tokenizer.encodePairs(queries, docs, pairQuery.subarray(start, end), pairDoc.subarray(start, end), {
          maxLength: this.info.maxLength,
          truncation: this.#truncation,
        });
        truncated.set(pairs.truncated, start);
        scored.push(
          this.#scheduler.submit(pairs, signal).then(
            (chunk) => logits.set(chunk, start * labels),
            (error: unknown) => void (chunkFailure ??= { error }), // the call fails: tokenize no further chunks
          ),
        );
      }
    } catch (error) {
      failure = { error };
    }
    await Promise.all(scored);
    if (failure) throw failure.error;
    if (chunkFailure) throw chunkFailure.error;
    // A NaN or infinite logit would sort unpredictably and poison averages downstream: it
    // means the model is broken, not the request.
    const bad = logits.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new ModelLoadError(
        `the model produced a non-finite logit (${logits[bad]}) for document ${pairDoc[Math.floor(bad / labels)]}: its weights or ONNX graph are likely corrupt`,
      );
    }
    const scores = await applyScoreHead(logits, headSpec(options.raw ? { ...this.info.head, activation: 'none' } : this.info.head));
    if (this.#calibration && !options.raw) for (let i = 0; i < scores.length; i++) scores[i] = calibrate(this.#calibration.calibrator, scores[i]);
    return { scores, truncated };
  }
}
