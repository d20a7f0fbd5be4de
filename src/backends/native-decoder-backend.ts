/**
 * The native engine for decoder rerankers (Qwen3): the C++ reference forward pass on the CPU,
 * computing only the two answer rows of the output layer at each prompt's last token. Rows
 * whose prompts share a prefix (the documents of one query) run that prefix once and reuse
 * its key/value cache; scores equal the unshared computation within tolerance.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { BackendUnavailableError, ModelLoadError } from '../errors.js';
import type { ModelConfig } from '../model/model-config.js';
import type { NativeDecoderConfig, NativeDecoderInstance } from '../native/binding.js';
import { native } from '../native/load.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import type { Backend } from './backend.js';

function decoderConfig(config: ModelConfig, source: string): NativeDecoderConfig {
  const raw = config.raw;
  const int = (key: string, fallback?: number) => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ModelLoadError(`${source}: ${key} must be a positive integer`);
    return v;
  };
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
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
    ropeTheta: typeof raw.rope_theta === 'number' ? raw.rope_theta : 1e6,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
  };
}

export class NativeDecoderBackend implements Backend {
  readonly name = 'native' as const;
  readonly device = 'cpu';
  readonly numLabels = 2;
  readonly #decoder: NativeDecoderInstance;
  readonly #sharePrefix: boolean;

  private constructor(decoder: NativeDecoderInstance, sharePrefix: boolean) {
    this.#decoder = decoder;
    this.#sharePrefix = sharePrefix;
  }

  static async create(
    dir: string,
    config: ModelConfig,
    answerIds: [number, number],
    options: { device?: string; threads?: number; sharePrefix?: boolean } = {},
  ): Promise<NativeDecoderBackend> {
    if ((options.device ?? 'cpu') !== 'cpu') throw new BackendUnavailableError('the native decoder runs on the CPU only for now');
    const decoder = await native().loadDecoder(
      join(dir, 'model.safetensors'),
      decoderConfig(config, join(dir, 'config.json')),
      Int32Array.from(answerIds),
      options.threads ?? availableParallelism(),
    );
    return new NativeDecoderBackend(decoder, options.sharePrefix ?? true);
  }

  async run(pairs: PairEncodings, rows: Int32Array): Promise<Float32Array> {
    const seq = (r: number) => pairs.ids.subarray(pairs.offsets[r], pairs.offsets[r + 1]);
    const out = new Float32Array(rows.length * 2);
    // Rows grouped by their prompt prefix (the same query): each group runs it once.
    const groups = new Map<string, number[]>();
    rows.forEach((r, i) => {
      const prefix = this.#sharePrefix && pairs.prefixLengths ? Math.min(pairs.prefixLengths[r], seq(r).length - 1) : 0;
      const key = prefix > 0 ? seq(r).subarray(0, prefix).join(',') : `row:${i}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(i);
    });
    for (const [key, members] of groups) {
      const first = seq(rows[members[0]]);
      const prefixLength = key.startsWith('row:') ? 0 : key.split(',').length;
      const cu = new Int32Array(members.length + 1);
      members.forEach((i, k) => (cu[k + 1] = cu[k] + seq(rows[i]).length - prefixLength));
      const tokens = new Int32Array(cu[members.length]);
      members.forEach((i, k) => tokens.set(seq(rows[i]).subarray(prefixLength), cu[k]));
      const logits =
        prefixLength > 0
          ? await this.#decoder.scoreShared(first.slice(0, prefixLength), tokens, cu)
          : await this.#decoder.scoreFull(tokens, cu);
      members.forEach((i, k) => out.set(logits.subarray(2 * k, 2 * k + 2), 2 * i));
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.#decoder.dispose();
  }
}
