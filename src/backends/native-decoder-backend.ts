/**
 * The native engine for decoder rerankers (Qwen3): the C++ reference forward pass on the CPU
 * or the CUDA backend, computing only the two answer rows of the output layer at each
 * prompt's last token. Rows whose prompts share a prefix (the documents of one query) run
 * that prefix once and reuse its key/value cache; scores equal the unshared computation
 * within tolerance.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import type { ModelConfig } from '../model/model-config.js';
import { weightsPath } from '../model/model-files.js';
import type { CudaElementType, NativeDecoderConfig, NativeDecoderInstance } from '../native/binding.js';
import { native } from '../native/load.js';
import { parseDevice } from '../score-head.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import type { LoadProgressCallback } from '../util/load-progress.js';
import type { Backend } from './backend.js';
import { DEFAULT_PRECISION } from './precision.js';

function decoderConfig(config: ModelConfig, source: string): NativeDecoderConfig {
  const raw = config.raw;
  const int = (key: string, fallback?: number) => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelLoadError(`${source}: ${key} must be a positive integer`);
    return v;
  };
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  refuseSlidingWindow(raw, source);
  // What the engine computes: SwiGLU with SiLU, projections without biases (Qwen3's defaults).
  if ((raw.hidden_act ?? 'silu') !== 'silu') {
    throw new ModelLoadError(`${source}: hidden_act ${JSON.stringify(raw.hidden_act)} is not supported by the native engine (silu only); use backend 'onnx'`);
  }
  if (raw.attention_bias === true) {
    throw new ModelLoadError(`${source}: attention_bias (biases on q/k/v/o) is not supported by the native engine; use backend 'onnx'`);
  }
  return {
    vocabSize: int('vocab_size'),
    hiddenSize: hidden,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: int('num_key_value_heads', heads),
    headDim: int('head_dim', hidden / heads),
    maxPositions: int('max_position_embeddings'),
    rmsNormEps: typeof raw.rms_norm_eps === 'number' ? raw.rms_norm_eps : 1e-6,
    ropeTheta: ropeTheta(raw, source),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
  };
}

/**
 * The native decoder attends to every earlier token. A config whose layers use a sliding
 * window (transformers: `layer_types` with "sliding_attention", or `use_sliding_window` with
 * layers from `max_window_layers` on) would be computed wrongly past the window: refused,
 * unless the window covers every position anyway. Qwen3-Reranker's configs use none.
 */
function refuseSlidingWindow(raw: Record<string, unknown>, source: string): void {
  const layers = Number(raw.num_hidden_layers);
  const types = Array.isArray(raw.layer_types) ? raw.layer_types : undefined;
  const windowed = types
    ? types.includes('sliding_attention')
    : raw.use_sliding_window === true && Number(raw.max_window_layers ?? layers) < layers;
  const window = raw.sliding_window;
  if (windowed && !(typeof window === 'number' && window >= Number(raw.max_position_embeddings))) {
    throw new ModelLoadError(
      `${source}: sliding-window attention (sliding_window ${JSON.stringify(window)}) is not supported by the native engine, which attends to every earlier token; use backend 'onnx'`,
    );
  }
}

/**
 * The rotary base: `rope_parameters.rope_theta` (transformers 5) or `rope_theta` (4.x; its
 * default 10000 when absent). Scaled variants (YaRN, linear, dynamic) are refused rather than
 * computed wrongly.
 */
function ropeTheta(raw: Record<string, unknown>, source: string): number {
  type Rope = { rope_theta?: unknown; rope_type?: unknown; type?: unknown };
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? undefined) as Rope | undefined;
  const type = params?.rope_type ?? params?.type;
  if (type !== undefined && type !== 'default') {
    throw new ModelLoadError(`${source}: rotary embeddings of type ${JSON.stringify(type)} are not supported by the native engine (only 'default'); use backend 'onnx'`);
  }
  const theta = params?.rope_theta ?? raw.rope_theta ?? 10_000;
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelLoadError(`${source}: rope_theta must be a positive number`);
  return theta;
}

export class NativeDecoderBackend implements Backend {
  readonly name = 'native' as const;
  readonly device: string;
  readonly numLabels = 2;
  readonly sharesPrefixes: boolean;
  readonly #decoder: NativeDecoderInstance;

  private constructor(decoder: NativeDecoderInstance, device: string, sharePrefix: boolean) {
    this.#decoder = decoder;
    this.device = device;
    this.sharesPrefixes = sharePrefix;
  }

  static async create(
    dir: string,
    config: ModelConfig,
    answerIds: [number, number],
    options: { device?: string; threads?: number; sharePrefix?: boolean; precision?: CudaElementType; onProgress?: LoadProgressCallback } = {},
  ): Promise<NativeDecoderBackend> {
    const device = options.device ?? 'cpu';
    const decoder = await native().loadDecoder(
      weightsPath(dir),
      decoderConfig(config, join(dir, 'config.json')),
      Int32Array.from(answerIds),
      options.threads ?? availableParallelism(),
      parseDevice(device),
      options.precision ?? DEFAULT_PRECISION.decoder,
      options.onProgress,
    );
    return new NativeDecoderBackend(decoder, device, options.sharePrefix ?? true);
  }

  /**
   * One native call per batch: each distinct prompt prefix (a query's frame + instruction +
   * query) becomes one entry of the prefix list, and every row continues its prefix.
   */
  async run(pairs: PairEncodings, rows: Int32Array): Promise<Float32Array> {
    const seq = (r: number) => pairs.ids.subarray(pairs.offsets[r], pairs.offsets[r + 1]);
    const prefixIndex = new Map<string, number>();
    const prefixes: Int32Array[] = [];
    const prefixOf = new Int32Array(rows.length).fill(-1);
    const own: Int32Array[] = [];
    rows.forEach((r, i) => {
      const ids = seq(r);
      // A row keeps at least its last token: the answer is read there.
      const length = this.sharesPrefixes && pairs.prefixLengths ? Math.min(pairs.prefixLengths[r], ids.length - 1) : 0;
      if (length > 0) {
        const prefix = ids.subarray(0, length);
        const key = prefix.join(',');
        let index = prefixIndex.get(key);
        if (index === undefined) prefixIndex.set(key, (index = prefixes.push(prefix) - 1));
        prefixOf[i] = index;
      }
      own.push(ids.subarray(length));
    });
    return this.#decoder.score(...pack(prefixes), ...pack(own), prefixOf);
  }

  async dispose(): Promise<void> {
    this.#decoder.dispose();
  }
}

/** Concatenated ids and cumulative lengths. */
function pack(parts: Int32Array[]): [Int32Array, Int32Array] {
  const cu = new Int32Array(parts.length + 1);
  parts.forEach((p, i) => (cu[i + 1] = cu[i] + p.length));
  const ids = new Int32Array(cu[parts.length]);
  parts.forEach((p, i) => ids.set(p, cu[i]));
  return [ids, cu];
}
