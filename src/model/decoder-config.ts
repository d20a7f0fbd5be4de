/**
 * A Qwen3 decoder's config.json -> the shape the native engine (and crossrank's ONNX export,
 * which builds the same computation) runs, refusing what either would compute wrongly.
 */
import { ModelLoadError } from '../errors.js';
import type { NativeDecoderConfig } from '../native/binding.js';
import type { ModelConfig } from './model-config.js';

/** Who reads the config, as refusals name it, and what to do instead. */
export interface DecoderReader {
  name: string;
  hint: string;
}

export const NATIVE_ENGINE: DecoderReader = { name: 'the native engine', hint: "; use backend 'onnx'" };

/** A positive integer field of config.json (or the fallback), else a ModelLoadError naming it. */
function intField(raw: Record<string, unknown>, source: string) {
  return (key: string, fallback?: number) => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelLoadError(`${source}: ${key} must be a positive integer`);
    return v;
  };
}

/**
 * The shape of a decoder's key/value cache per config.json (what the cache tensors of an
 * ONNX graph hold, whatever else the graph computes), and its width.
 */
export function decoderCacheShape(config: ModelConfig, source: string): { numLayers: number; numKvHeads: number; headDim: number; hiddenSize: number } {
  const int = intField(config.raw, source);
  const heads = int('num_attention_heads');
  const hiddenSize = int('hidden_size');
  return { numLayers: int('num_hidden_layers'), numKvHeads: int('num_key_value_heads', heads), headDim: int('head_dim', hiddenSize / heads), hiddenSize };
}

export function nativeDecoderConfig(config: ModelConfig, source: string, reader: DecoderReader = NATIVE_ENGINE): NativeDecoderConfig {
  const raw = config.raw;
  const int = intField(raw, source);
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  refuseSlidingWindow(raw, source, reader);
  // What the engine computes: SwiGLU with SiLU, projections without biases (Qwen3's defaults).
  if ((raw.hidden_act ?? 'silu') !== 'silu') {
    throw new ModelLoadError(`${source}: hidden_act ${JSON.stringify(raw.hidden_act)} is not supported by ${reader.name} (silu only)${reader.hint}`);
  }
  if (raw.attention_bias === true) {
    throw new ModelLoadError(`${source}: attention_bias (biases on q/k/v/o) is not supported by ${reader.name}${reader.hint}`);
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
    ropeTheta: ropeTheta(raw, source, reader),
    tieWordEmbeddings: raw.tie_word_embeddings === true,
  };
}

/**
 * The native decoder attends to every earlier token. A config whose layers use a sliding
 * window (transformers: `layer_types` with "sliding_attention", or `use_sliding_window` with
 * layers from `max_window_layers` on) would be computed wrongly past the window: refused,
 * unless the window covers every position anyway. Qwen3-Reranker's configs use none.
 */
function refuseSlidingWindow(raw: Record<string, unknown>, source: string, reader: DecoderReader): void {
  const layers = Number(raw.num_hidden_layers);
  const types = Array.isArray(raw.layer_types) ? raw.layer_types : undefined;
  const windowed = types
    ? types.includes('sliding_attention')
    : raw.use_sliding_window === true && Number(raw.max_window_layers ?? layers) < layers;
  const window = raw.sliding_window;
  if (windowed && !(typeof window === 'number' && window >= Number(raw.max_position_embeddings))) {
    throw new ModelLoadError(
      `${source}: sliding-window attention (sliding_window ${JSON.stringify(window)}) is not supported by ${reader.name}, which attends to every earlier token${reader.hint}`,
    );
  }
}

/**
 * The rotary base: `rope_parameters.rope_theta` (transformers 5) or `rope_theta` (4.x; its
 * default 10000 when absent). Scaled variants (YaRN, linear, dynamic) are refused rather than
 * computed wrongly.
 */
function ropeTheta(raw: Record<string, unknown>, source: string, reader: DecoderReader): number {
  type Rope = { rope_theta?: unknown; rope_type?: unknown; type?: unknown };
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? undefined) as Rope | undefined;
  const type = params?.rope_type ?? params?.type;
  if (type !== undefined && type !== 'default') {
    throw new ModelLoadError(`${source}: rotary embeddings of type ${JSON.stringify(type)} are not supported by ${reader.name} (only 'default')${reader.hint}`);
  }
  const theta = params?.rope_theta ?? raw.rope_theta ?? 10_000;
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelLoadError(`${source}: rope_theta must be a positive number`);
  return theta;
}
