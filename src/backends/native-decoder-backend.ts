/**
 * The native engine for decoder rerankers (Qwen3): the C++ reference forward pass on the CPU
 * or the CUDA backend, computing only the two answer rows of the output layer at each
 * prompt's last token. Rows whose prompts share a prefix (the documents of one query) run
 * that prefix once and reuse its key/value cache; scores equal the unshared computation
 * within tolerance.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { nativeDecoderConfig } from '../model/decoder-config.js';
import type { ModelConfig } from '../model/model-config.js';
import { weightsPath } from '../model/model-files.js';
import type { CudaElementType, NativeDecoderConfig, NativeDecoderInstance } from '../native/binding.js';
import { native } from '../native/load.js';
import { parseDevice } from '../score-head.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import type { LoadProgressCallback } from '../util/load-progress.js';
import type { Backend } from './backend.js';
import { prefixGroups } from './prefix-groups.js';
import { DEFAULT_PRECISION } from './precision.js';

export class NativeDecoderBackend implements Backend {
  readonly name = 'native' as const;
  readonly device: string;
  readonly numLabels = 2;
  readonly sharesPrefixes: boolean;
  readonly packsRows = true;
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
      nativeDecoderConfig(config, join(dir, 'config.json')),
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
    const prefixes: Int32Array[] = [];
    const prefixOf = new Int32Array(rows.length).fill(-1);
    const own: Int32Array[] = new Array(rows.length);
    for (const { prefix, at, rest } of prefixGroups(pairs, rows, this.sharesPrefixes)) {
      const index = prefix.length > 0 ? prefixes.push(prefix) - 1 : -1;
      at.forEach((i, k) => {
        prefixOf[i] = index;
        own[i] = rest[k];
      });
    }
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
