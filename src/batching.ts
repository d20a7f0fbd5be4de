/**
 * Length-aware batching: sort pairs by length (longest first) and cut batches so that
 * rows x longest row stays within a token budget. Padding is then only to each batch's
 * own longest sequence, and similar lengths share a batch. Backends that compute no padding
 * (the native engine's packed batches) count real tokens instead: planPackedBatches.
 */
export interface BatchPlanOptions {
  /** Tokens per batch: padded (rows x longest) for planBatches, real (the rows' sum) for the packed plans. */
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

/**
 * Batches for backends that pack rows without padding: a batch costs the sum of its rows'
 * lengths. Counting padded tokens there would split a typical rerank request (100 passages
 * whose longest is twice the median) into two backend calls for no memory saved. Longest
 * first, as planBatches, so a mixed queue is cut at the same places run after run.
 */
export function planPackedBatches(lengths: ArrayLike<number>, options: BatchPlanOptions): Int32Array[] {
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const maxRows = options.maxBatchSize ?? 256;
  const batches: Int32Array[] = [];
  let current: number[] = [];
  let tokens = 0;
  for (const i of order) {
    const length = Math.max(1, lengths[i]);
    if (current.length > 0 && (tokens + length > options.batchTokens || current.length >= maxRows)) {
      batches.push(Int32Array.from(current));
      current = [];
      tokens = 0;
    }
    tokens += length;
    current.push(i);
  }
  if (current.length > 0) batches.push(Int32Array.from(current));
  return batches;
}

/** A row for backends that share prompt prefixes: its group (rows of one query) and lengths. */
export interface PrefixRow {
  group: number;
  /** Whole prompt length. */
  length: number;
  /** Tokens of the prompt prefix its group shares (run once per batch). */
  prefix: number;
}

/**
 * Batches for packed backends that run each group's prompt prefix once per batch (LLM
 * rerankers on the native engine): a batch costs its distinct prefixes plus every row's own
 * tokens, with no padding. Rows of one group stay together so a prefix is run as few times as
 * the budget allows; within a group, longest first.
 */
export function planPrefixBatches(rows: readonly PrefixRow[], options: BatchPlanOptions): Int32Array[] {
  const order = Array.from(rows.keys()).sort((a, b) => rows[a].group - rows[b].group || rows[b].length - rows[a].length || a - b);
  const maxRows = options.maxBatchSize ?? 256;
  const batches: Int32Array[] = [];
  let current: number[] = [];
  let cost = 0;
  let groups = new Set<number>();
  for (const i of order) {
    const { group, length, prefix } = rows[i];
    const rowCost = length - prefix + (groups.has(group) ? 0 : prefix);
    if (current.length > 0 && (cost + rowCost > options.batchTokens || current.length >= maxRows)) {
      batches.push(Int32Array.from(current));
      current = [];
      cost = 0;
      groups = new Set();
    }
    cost += length - prefix + (groups.has(group) ? 0 : prefix);
    groups.add(group);
    current.push(i);
  }
  if (current.length > 0) batches.push(Int32Array.from(current));
  return batches;
}
