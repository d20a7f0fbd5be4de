/**
 * Synthetic Qwen3 rerankers (Qwen3ForCausalLM, as Qwen3-Reranker-0.6B/4B/8B are saved):
 * presets, the parameter list with transformers' names, config.json, and the writer used by
 * `make-model --preset qwen3-tiny | qwen3-0.6b`. Weights are seeded random values; the
 * tokenizer is the real Qwen3 one.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { InvalidArgumentError } from '../errors.js';
import { Qwen3PromptTokenizer } from '../llm/qwen3-reranker-prompt.js';
import type { NativeDecoderConfig } from '../native/binding.js';
import { EXTERNAL_DATA_BYTES, writeQwen3Graph } from '../onnx/qwen3-graph.js';
import { packageVersion } from '../package-info.js';
import { hashString, Rng } from '../util/rng.js';
import { writeCheckpoint } from './safetensors.js';

/** A Qwen3 decoder's shape: the same fields the native engine takes. */
export type Qwen3Dims = NativeDecoderConfig;

const qwen3 = { vocabSize: 151_936, rmsNormEps: 1e-6, ropeTheta: 1_000_000, maxPositions: 40_960 } as const;

export const qwen3Presets = {
  /** 2 layers, hidden 32, 4 query heads over 2 key/value heads: fast enough for tests. */
  'qwen3-tiny': { ...qwen3, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, tieWordEmbeddings: true },
  /** The shape of Qwen/Qwen3-Reranker-0.6B. */
  'qwen3-0.6b': { ...qwen3, hiddenSize: 1024, intermediateSize: 3072, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, tieWordEmbeddings: true },
} satisfies Record<string, Qwen3Dims>;

export type Qwen3PresetName = keyof typeof qwen3Presets;
export const isQwen3Preset = (name: string): name is Qwen3PresetName => name in qwen3Presets;

interface Spec {
  name: string;
  shape: number[];
  init: 'embedding' | 'linear' | 'norm';
}

export function qwen3Parameters(d: Qwen3Dims): Spec[] {
  const out: Spec[] = [{ name: 'model.embed_tokens.weight', shape: [d.vocabSize, d.hiddenSize], init: 'embedding' }];
  const linear = (name: string, o: number, i: number) => out.push({ name: `${name}.weight`, shape: [o, i], init: 'linear' });
  const norm = (name: string, n: number) => out.push({ name: `${name}.weight`, shape: [n], init: 'norm' });
  for (let l = 0; l < d.numLayers; l++) {
    const p = `model.layers.${l}`;
    norm(`${p}.input_layernorm`, d.hiddenSize);
    linear(`${p}.self_attn.q_proj`, d.numHeads * d.headDim, d.hiddenSize);
    linear(`${p}.self_attn.k_proj`, d.numKvHeads * d.headDim, d.hiddenSize);
    linear(`${p}.self_attn.v_proj`, d.numKvHeads * d.headDim, d.hiddenSize);
    linear(`${p}.self_attn.o_proj`, d.hiddenSize, d.numHeads * d.headDim);
    norm(`${p}.self_attn.q_norm`, d.headDim);
    norm(`${p}.self_attn.k_norm`, d.headDim);
    norm(`${p}.post_attention_layernorm`, d.hiddenSize);
    linear(`${p}.mlp.gate_proj`, d.intermediateSize, d.hiddenSize);
    linear(`${p}.mlp.up_proj`, d.intermediateSize, d.hiddenSize);
    linear(`${p}.mlp.down_proj`, d.hiddenSize, d.intermediateSize);
  }
  norm('model.norm', d.hiddenSize);
  if (!d.tieWordEmbeddings) linear('lm_head', d.vocabSize, d.hiddenSize);
  return out;
}

export function qwen3Config(d: Qwen3Dims, nameOrPath: string): Record<string, unknown> {
  const config: Record<string, unknown> = {
    _name_or_path: nameOrPath,
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    head_dim: d.headDim,
    hidden_act: 'silu',
    hidden_size: d.hiddenSize,
    initializer_range: 0.02,
    intermediate_size: d.intermediateSize,
    max_position_embeddings: d.maxPositions,
    max_window_layers: d.numLayers,
    model_type: 'qwen3',
    num_attention_heads: d.numHeads,
    num_hidden_layers: d.numLayers,
    num_key_value_heads: d.numKvHeads,
    rms_norm_eps: d.rmsNormEps,
    rope_scaling: null,
    rope_theta: d.ropeTheta,
    sliding_window: null,
    tie_word_embeddings: d.tieWordEmbeddings,
    torch_dtype: 'float32',
    transformers_version: '4.51.0',
    use_cache: true,
    use_sliding_window: false,
    vocab_size: d.vocabSize,
  };
  return Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
}

function initialise(spec: Spec, seed: number): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  const rng = new Rng(seed, hashString(spec.name));
  const fanIn = spec.shape[spec.shape.length - 1];
  // As for the encoders (encoder-parameters.ts): activations stay O(1) so logits spread.
  const [scale, shift] = spec.init === 'embedding' ? [0.5, 0] : spec.init === 'linear' ? [1 / Math.sqrt(fanIn), 0] : [0.1, 1];
  for (let i = 0; i < count; i++) values[i] = shift + scale * rng.normal();
  return values;
}

/**
 * Writes config.json, model.safetensors (or shards and their index), onnx/model.onnx (with its
 * weights in onnx/model.onnx_data past 2 GB) and the tokenizer into `out`.
 */
export function makeQwen3Model(options: {
  preset: Qwen3PresetName;
  seed: number;
  out: string;
  tokenizer: string;
  /** The ONNX graph's output: the two answer rows (default) or the whole vocabulary, as public exports. */
  onnxOutput?: 'yes-no' | 'vocabulary';
  /**
   * The ONNX graph's key/value cache inputs and outputs (default true, as public exports
   * made for generation have them; see qwen3-graph.ts): ONNX Runtime then shares prompt
   * prefixes. false writes the graph without, as trimmed public exports are.
   */
  onnxKvCache?: boolean;
  /** The ONNX graph's attention as ONNX Runtime's fused GroupQueryAttention (see qwen3-graph.ts). */
  onnxFusedAttention?: boolean;
  /** Shard model.safetensors over files of at most this many bytes (as Qwen3-Reranker-4B/8B ship). */
  maxShardBytes?: number;
  /** Keep the ONNX graph's weights in onnx/model.onnx_data (default: when the graph would pass protobuf's 2 GB). */
  onnxExternalData?: boolean;
}): { dir: string; parameters: number } {
  const dims = qwen3Presets[options.preset];
  const tokenizerJson = join(options.tokenizer, 'tokenizer.json');
  if (!existsSync(tokenizerJson)) throw new InvalidArgumentError(`${options.tokenizer} has no tokenizer.json (a Qwen3 tokenizer is needed)`);
  const prompt = Qwen3PromptTokenizer.fromFile(tokenizerJson);
  const out = resolve(options.out);
  const temp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(join(temp, 'onnx'), { recursive: true });
  try {
    const specs = qwen3Parameters(dims);
    const weights = new Map(specs.map((s) => [s.name, initialise(s, options.seed)]));
    writeFileSync(join(temp, 'config.json'), `${JSON.stringify(qwen3Config(dims, `crossrank-synthetic/${options.preset}-seed${options.seed}`), null, 2)}\n`);
    writeCheckpoint(temp, specs.map((s) => ({ name: s.name, shape: s.shape, data: weights.get(s.name)! })), 'F32', options.maxShardBytes);
    const parameters = specs.reduce((n, spec) => n + spec.shape.reduce((a, b) => a * b, 1), 0);
    // One protobuf holds at most 2 GB: past that (qwen3-0.6b) the weights go to
    // onnx/model.onnx_data beside the graph, as the public exports of such models have them.
    const externalData = options.onnxExternalData ?? parameters * 4 >= EXTERNAL_DATA_BYTES;
    writeQwen3Graph(join(temp, 'onnx'), externalData, dims, weights, [prompt.yesId, prompt.noId], packageVersion, { output: options.onnxOutput, kvCache: options.onnxKvCache ?? true, fusedAttention: options.onnxFusedAttention });
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt']) {
      if (!existsSync(join(options.tokenizer, file))) continue;
      copyFileSync(join(options.tokenizer, file), join(temp, file));
      chmodSync(join(temp, file), 0o644);
    }
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    mkdirSync(dirname(out), { recursive: true });
    renameSync(temp, out);
    return { dir: out, parameters };
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}
