/**
 * A bi-encoder run by crossrank: a sentence-transformers model (BertModel / XLMRobertaModel
 * with a Pooling module) from a directory or the hub. Texts are tokenized as single
 * sequences ([CLS] text [SEP]), batched by length, run through the model's ONNX export
 * (`last_hidden_state`) with ONNX Runtime — or, with `backend: 'native'`, through crossrank's
 * own engine from model.safetensors (packed, no padding) — then pooled (mean over the real
 * tokens, or the [CLS] vector, as 1_Pooling/config.json says) and normalised to unit length.
 *
 *   const embedder = await EncoderEmbedder.load('sentence-transformers/all-MiniLM-L6-v2');
 *   const [v] = await embedder.embed(['what is a cross-encoder']);
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { packRows } from '../backends/native-backend.js';
import { OrtWorkerSession, type WorkerTensor } from '../backends/ort-worker-session.js';
import { planBatches, planPackedBatches } from '../batching.js';
import { InvalidArgumentError, ModelLoadError } from '../errors.js';
import { resolveModel, type ResolveOptions } from '../hub/resolve.js';
import { isBareEncoder, nativeEncoderConfig } from '../model/encoder-config.js';
import { modelMaxLength, readModelConfig, type ModelConfig } from '../model/model-config.js';
import type { NativeEncoderInstance } from '../native/binding.js';
import { defaultBackend, onnxModelPath, weightFilesFor, weightsPath, type OnnxChoice } from '../model/model-files.js';
import type { Pooling } from '../model/presets.js';
import { native } from '../native/load.js';
import { createPairTokenizer, type PairEncodings, type PairTokenizer } from '../tokenizer/pair-tokenizer.js';
import { readTokenizerSpec } from '../tokenizer/tokenizer-spec.js';
import { normalize, type Embedder } from './embedder.js';

export interface EncoderEmbedderOptions extends ResolveOptions, OnnxChoice {
  /** 'onnx' (ONNX Runtime) or 'native' (crossrank's engine on the CPU, model.safetensors); default as CrossEncoder's: ONNX where there is an export. */
  backend?: 'onnx' | 'native';
  /** Longest text in tokens, special tokens included (default: sentence_bert_config.json's max_seq_length, else the model's limit). */
  maxLength?: number;
  /** Override the pooling the model declares. */
  pooling?: Pooling;
  /** Tokens per batch (default 8192): padded on ONNX Runtime, real tokens on the native engine (it packs rows). */
  batchTokens?: number;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
}


/** The pooling a sentence-transformers model declares (mean when it says nothing). */
function declaredPooling(dir: string): Pooling {
  const path = join(dir, '1_Pooling', 'config.json');
  if (!existsSync(path)) return 'mean';
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (c.pooling_mode_cls_token) return 'cls';
  if (c.pooling_mode_mean_tokens) return 'mean';
  const other = Object.entries(c).filter(([k, v]) => k.startsWith('pooling_mode_') && v).map(([k]) => k);
  throw new ModelLoadError(`${path} asks for ${other.join(', ') || 'no pooling'}; crossrank pools by mean or CLS token`);
}

function declaredMaxLength(dir: string): number | undefined {
  const path = join(dir, 'sentence_bert_config.json');
  if (!existsSync(path)) return undefined;
  try {
    const v = (JSON.parse(readFileSync(path, 'utf8')) as { max_seq_length?: unknown }).max_seq_length;
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

export class EncoderEmbedder implements Embedder {
  readonly dimension: number;
  readonly info: { model: string; dir: string; pooling: Pooling; maxLength: number; backend: 'onnx' | 'native' };
  readonly #runner: HiddenStates;
  readonly #tokenizer: PairTokenizer;
  readonly #padId: number;
  readonly #batchTokens: number;
  #disposed = false;

  private constructor(
    info: EncoderEmbedder['info'],
    dimension: number,
    runner: HiddenStates,
    tokenizer: PairTokenizer,
    padId: number,
    batchTokens: number,
  ) {
    this.info = info;
    this.dimension = dimension;
    this.#runner = runner;
    this.#tokenizer = tokenizer;
    this.#padId = padId;
    this.#batchTokens = batchTokens;
  }

  static async load(idOrDir: string, options: EncoderEmbedderOptions = {}): Promise<EncoderEmbedder> {
    if (typeof idOrDir !== 'string' || idOrDir === '') throw new InvalidArgumentError('embedder model must be a hub id or a directory');
    if (options.maxLength !== undefined && (!Number.isInteger(options.maxLength) || options.maxLength < 3)) {
      throw new InvalidArgumentError(`maxLength must be an integer >= 3, got ${options.maxLength}`);
    }
    if (options.pooling !== undefined && options.pooling !== 'mean' && options.pooling !== 'cls') {
      throw new InvalidArgumentError(`pooling must be 'mean' or 'cls', got ${JSON.stringify(options.pooling)}`);
    }
    const batchTokens = options.batchTokens ?? 8192;
    if (!Number.isInteger(batchTokens) || batchTokens < 1) throw new InvalidArgumentError(`batchTokens must be a positive integer, got ${batchTokens}`);
    const explicit = options.backend;
    if (explicit !== undefined && explicit !== 'onnx' && explicit !== 'native') {
      throw new InvalidArgumentError(`backend must be 'onnx' or 'native', got ${JSON.stringify(explicit)}`);
    }
    const resolved = await resolveModel(idOrDir, { ...options, files: weightFilesFor(explicit, options) });
    const backend = explicit ?? defaultBackend(resolved.dir, options);
    const config = readModelConfig(resolved.dir);
    const hidden = config.raw.hidden_size;
    if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1) throw new ModelLoadError(`${resolved.dir}/config.json has no valid hidden_size`);
    const pooling = options.pooling ?? declaredPooling(resolved.dir);
    const limit = modelMaxLength(resolved.dir, config);
    const maxLength = Math.min(options.maxLength ?? declaredMaxLength(resolved.dir) ?? limit, limit);
    const tokenizer = createPairTokenizer(readTokenizerSpec(resolved.dir));

    const runner = backend === 'onnx' ? await OnnxHiddenStates.create(resolved.dir, options) : await NativeHiddenStates.create(resolved.dir, config, options);
    return new EncoderEmbedder({ model: idOrDir, dir: resolved.dir, pooling, maxLength, backend }, hidden, runner, tokenizer, config.padTokenId, batchTokens);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (this.#disposed) throw new InvalidArgumentError('this EncoderEmbedder has been disposed');
    if (!Array.isArray(texts)) throw new InvalidArgumentError('texts must be an array of strings');
    texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new InvalidArgumentError(`texts[${i}] must be a string, got ${typeof t}`);
    });
    if (texts.length === 0) return [];
    const encoded = await this.#tokenizer.encodeSingles([...texts], this.info.maxLength);
    const lengths = Int32Array.from(texts, (_, i) => encoded.offsets[i + 1] - encoded.offsets[i]);
    const out: Float32Array[] = new Array(texts.length);
    const H = this.dimension;
    const plan = this.#runner.packsRows ? planPackedBatches : planBatches;
    for (const rows of plan(lengths, { batchTokens: this.#batchTokens })) {
      const { hidden, starts } = await this.#runner.run(encoded, rows, this.#padId, H);
      rows.forEach((row, r) => {
        const v = new Float32Array(H);
        const base = starts[r] * H;
        if (this.info.pooling === 'cls') {
          v.set(hidden.subarray(base, base + H));
        } else {
          // Mean over the real tokens ([CLS] and [SEP] included), as sentence-transformers does.
          const n = lengths[row];
          for (let t = 0; t < n; t++) for (let h = 0; h < H; h++) v[h] += hidden[base + t * H + h];
          for (let h = 0; h < H; h++) v[h] /= n;
        }
        out[row] = normalize(v);
      });
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#runner.dispose();
  }
}

/** Token vectors of a batch: `hidden`, with row r's first token at token index starts[r]. */
interface HiddenStates {
  /** Rows packed without padding: batches count real tokens (see Backend.packsRows). */
  readonly packsRows?: boolean;
  run(encoded: PairEncodings, rows: Int32Array, padId: number, hiddenSize: number): Promise<{ hidden: Float32Array; starts: number[] }>;
  dispose(): Promise<void>;
}

/** ONNX Runtime on a worker thread; rows padded to the batch's longest. */
class OnnxHiddenStates implements HiddenStates {
  private constructor(readonly session: OrtWorkerSession) {}

  static async create(dir: string, options: EncoderEmbedderOptions): Promise<OnnxHiddenStates> {
    const path = onnxModelPath(dir, options);
    let session: OrtWorkerSession;
    try {
      session = await OrtWorkerSession.create(path, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.threads ?? availableParallelism(),
      });
    } catch (error) {
      throw new ModelLoadError(`cannot load ONNX model ${path}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    if (!session.outputNames.includes('last_hidden_state')) {
      await session.release();
      throw new ModelLoadError(
        `${path} has outputs ${session.outputNames.join(', ')}; an embedding model's export gives last_hidden_state (is this a cross-encoder?)`,
      );
    }
    return new OnnxHiddenStates(session);
  }

  async run(encoded: PairEncodings, rows: Int32Array, padId: number, H: number) {
    const batch = native().padBatch(encoded.ids, encoded.typeIds, encoded.offsets, rows, padId);
    const dims = [rows.length, batch.seqLen];
    const feeds: Record<string, WorkerTensor> = {};
    for (const name of this.session.inputNames) {
      const data = name === 'input_ids' ? batch.inputIds : name === 'attention_mask' ? batch.attentionMask : batch.tokenTypeIds;
      feeds[name] = { type: 'int64', data, dims };
    }
    const result = (await this.session.run(feeds)).last_hidden_state;
    const hidden = result.data as Float32Array;
    if (result.type !== 'float32' || hidden.length !== rows.length * batch.seqLen * H) {
      throw new ModelLoadError(`last_hidden_state has type ${result.type} and shape [${result.dims}], expected float32 [${rows.length}, ${batch.seqLen}, ${H}]`);
    }
    return { hidden, starts: Array.from(rows, (_, r) => r * batch.seqLen) };
  }

  dispose() {
    return this.session.release();
  }
}

/** crossrank's engine (C++ reference forward pass, off the JS thread); rows packed without padding. */
class NativeHiddenStates implements HiddenStates {
  readonly packsRows = true;
  private constructor(readonly encoder: NativeEncoderInstance) {}

  static async create(dir: string, config: ModelConfig, options: EncoderEmbedderOptions): Promise<NativeHiddenStates> {
    if (!isBareEncoder(config.architecture)) {
      throw new ModelLoadError(`${dir}: ${config.architecture} is not an embedding model (BertModel, XLMRobertaModel)`);
    }
    const encoder = await native().loadEncoder(
      weightsPath(dir),
      nativeEncoderConfig(config, join(dir, 'config.json')),
      options.threads ?? availableParallelism(),
      -1,
      'fp16', // the CPU computes in fp32; the element type applies to CUDA only
    );
    return new NativeHiddenStates(encoder);
  }

  async run(encoded: PairEncodings, rows: Int32Array, _padId: number, H: number) {
    const packed = packRows(encoded, rows);
    const hidden = await this.encoder.forward(packed.tokenIds, packed.typeIds, packed.cuSeqlens);
    if (hidden.length !== packed.tokenIds.length * H) throw new ModelLoadError(`the native engine returned ${hidden.length} values for ${packed.tokenIds.length} tokens of ${H}`);
    return { hidden, starts: Array.from(rows, (_, r) => packed.cuSeqlens[r]) };
  }

  async dispose() {
    this.encoder.dispose();
  }
}
