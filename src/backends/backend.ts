/**
 * The contract every scoring backend meets: encoded pairs and the rows of one batch in,
 * raw logits out (rows x numLabels). Each backend builds its own input layout: ONNX Runtime
 * pads the rows to their longest; the native engine packs them without padding.
 */
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';

export interface Backend {
  readonly name: 'onnx' | 'native';
  readonly device: string;
  /** Logits per row of the output. */
  readonly numLabels: number;
  /**
   * Runs each distinct prompt prefix of a batch once (PairEncodings.prefixLengths): the
   * scheduler then batches rows of one prefix together and counts a prefix once.
   */
  readonly sharesPrefixes?: boolean;
  /**
   * Packs a batch's rows without padding (the native engine), so a batch costs the sum of
   * its rows' lengths: the scheduler fills the token budget with real tokens.
   */
  readonly packsRows?: boolean;
  /** Raw logits of pairs[rows[0]], pairs[rows[1]], ..., row-major. */
  run(pairs: PairEncodings, rows: Int32Array, padId: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}
