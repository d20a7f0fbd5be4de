/**
 * The native engine: model.safetensors read by crossrank's own C++ code and run on packed
 * batches (no padding computed). Device 'cpu' runs the C++ reference forward pass; 'cuda'
 * the CUDA backend (fp16 or bf16 weights and activations, fp32 accumulation), opened at run
 * time.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

import { nativeEncoderConfig } from '../model/encoder-config.js';
import type { ModelConfig } from '../model/model-config.js';
import { weightsPath } from '../model/model-files.js';
import type { CudaElementType, NativeEncoderInstance } from '../native/binding.js';
import { native } from '../native/load.js';
import { parseDevice } from '../score-head.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import type { LoadProgressCallback } from '../util/load-progress.js';
import type { Backend } from './backend.js';
import { DEFAULT_PRECISION } from './precision.js';

/** Concatenates the selected pairs: token ids, type ids and cumulative lengths. */
export function packRows(pairs: PairEncodings, rows: Int32Array): { tokenIds: Int32Array; typeIds: Int32Array; cuSeqlens: Int32Array } {
  // Every row in order (the scheduler's merged batch): the pairs are the packed batch already.
  if (isEveryRowInOrder(pairs, rows)) return { tokenIds: pairs.ids, typeIds: pairs.typeIds, cuSeqlens: pairs.offsets };
  const cuSeqlens = new Int32Array(rows.length + 1);
  for (let r = 0; r < rows.length; r++) cuSeqlens[r + 1] = cuSeqlens[r] + pairs.offsets[rows[r] + 1] - pairs.offsets[rows[r]];
  const tokenIds = new Int32Array(cuSeqlens[rows.length]);
  const typeIds = new Int32Array(cuSeqlens[rows.length]);
  for (let r = 0; r < rows.length; r++) {
    const begin = pairs.offsets[rows[r]];
    const end = pairs.offsets[rows[r] + 1];
    tokenIds.set(pairs.ids.subarray(begin, end), cuSeqlens[r]);
    typeIds.set(pairs.typeIds.subarray(begin, end), cuSeqlens[r]);
  }
  return { tokenIds, typeIds, cuSeqlens };
}

function isEveryRowInOrder(pairs: PairEncodings, rows: Int32Array): boolean {
  if (rows.length !== pairs.offsets.length - 1 || pairs.offsets[0] !== 0 || pairs.ids.length !== pairs.offsets[rows.length]) return false;
  for (let r = 0; r < rows.length; r++) if (rows[r] !== r) return false;
  return true;
}

export class NativeBackend implements Backend {
  readonly name = 'native' as const;
  readonly device: string;
  readonly numLabels: number;
  readonly packsRows = true;
  readonly #encoder: NativeEncoderInstance;

  private constructor(encoder: NativeEncoderInstance, device: string, numLabels: number) {
    this.#encoder = encoder;
    this.device = device;
    this.numLabels = numLabels;
  }

  static async create(
    dir: string,
    config: ModelConfig,
    options: { device?: string; threads?: number; precision?: CudaElementType; onProgress?: LoadProgressCallback } = {},
  ): Promise<NativeBackend> {
    const device = options.device ?? 'cpu';
    const deviceIndex = parseDevice(device);
    const encoderConfig = nativeEncoderConfig(config, join(dir, 'config.json'));
    const encoder = await native().loadEncoder(
      weightsPath(dir),
      encoderConfig,
      options.threads ?? availableParallelism(),
      deviceIndex,
      options.precision ?? DEFAULT_PRECISION.encoder,
      options.onProgress,
    );
    return new NativeBackend(encoder, device, config.numLabels);
  }

  async run(pairs: PairEncodings, rows: Int32Array): Promise<Float32Array> {
    const packed = packRows(pairs, rows);
    return this.#encoder.forward(packed.tokenIds, packed.typeIds, packed.cuSeqlens);
  }

  async dispose(): Promise<void> {
    this.#encoder.dispose();
  }
}
