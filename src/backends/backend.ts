/** The contract every scoring backend meets: padded int64 batches in, raw logits out. */
import type { NativePaddedBatch } from '../native/binding.js';

export interface Backend {
  readonly name: 'onnx' | 'native';
  readonly device: string;
  /** Logits per row of the output. */
  readonly numLabels: number;
  /** Raw logits, rows x numLabels, row-major. */
  run(batch: NativePaddedBatch, rows: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}
