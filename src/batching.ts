/**
 * Length-aware batching: sort pairs by length (longest first) and cut batches so that
 * rows x longest row stays within a token budget. Padding is then only to each batch's
 * own longest sequence, and similar lengths share a batch.
 */
export interface BatchPlanOptions {
  /** Padded tokens per batch (rows x longest). */
  batchTokens: number;
  /** Upper bound on rows per batch. */
  maxBatchSize?: number;
}

/** Row indices of each batch, in processing order. */
export function planBatches(lengths: ArrayLike<number>, options: BatchPlanOptions): Int32Array[] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const maxRows = options.maxBatchSize ?? 256;
  const batches: Int32Array[] = [];
  let start = 0;
  while (start < order.length) {
    const longest = Math.max(1, lengths[order[start]]);
    const rows = Math.max(1, Math.min(maxRows, Math.floor(options.batchTokens / longest)));
    batches.push(Int32Array.from(order.slice(start, start + rows)));
    start += rows;
  }
  return batches;
}
