/**
 * Merges the rows of concurrent requests into shared backend batches. Each request's
 * encoded pairs join a queue; when the backend is free, everything queued is sorted by
 * length and cut into batches by the token budget (rows x longest; the sum of lengths for
 * backends that pack rows without padding), so short requests
 * arriving together share one batch instead of running one after another, and a GPU gets
 * full batches. Logits are scattered back to their requests; a failed batch rejects only
 * the requests that had rows in it. A request whose AbortSignal fires before its rows run
 * is rejected with the signal's reason and its rows are dropped, so abandoned work (a search
 * past its deadline) does not hold up the others.
 */
import { performance } from 'node:perf_hooks';

import { planBatches, planPackedBatches, planPrefixBatches, type PrefixRow } from './batching.js';
import type { Backend } from './backends/backend.js';
import type { PairEncodings } from './tokenizer/pair-tokenizer.js';

export interface BatchSchedulerOptions {
  /** Tokens per backend batch: padded (rows x longest), or real tokens for backends that pack rows. */
  batchTokens: number;
  /** How long a first request waits for others to join (default 0: the same turn of the event loop). */
  maxWaitMs?: number;
}

interface Request {
  pairs: PairEncodings;
  logits: Float32Array;
  remaining: number;
  failed: boolean;
  resolve(logits: Float32Array): void;
  reject(error: unknown): void;
}

interface QueuedRow {
  request: Request;
  row: number;
  length: number;
  /** Its batch has run (or is running). */
  done?: boolean;
}

export interface SchedulerStats {
  batches: number;
  rows: number;
  /** Requests abandoned through their AbortSignal. */
  aborted: number;
  /** Recent backend time per token (unpadded), an exponential moving average; 0 before the first batch. */
  msPerToken: number;
}

/** What one backend batch was: rows (pairs), tokens (unpadded) and its run time. */
export interface BatchEvent {
  rows: number;
  tokens: number;
  ms: number;
}

export class BatchScheduler {
  readonly stats: SchedulerStats = { batches: 0, rows: 0, aborted: 0, msPerToken: 0 };
  readonly #backend: Backend;
  readonly #padId: number;
  readonly #options: BatchSchedulerOptions;
  #queue: QueuedRow[] = [];
  /** The round being run: rows taken from the queue, not all run yet. */
  #round: QueuedRow[] = [];
  #scheduled = false;
  #running = false;
  readonly #batchListeners = new Set<(batch: BatchEvent) => void>();

  constructor(backend: Backend, padId: number, options: BatchSchedulerOptions) {
    this.#backend = backend;
    this.#padId = padId;
    this.#options = options;
  }

  /** Raw logits (rows x numLabels) for every pair of `pairs`, in order. */
  submit(pairs: PairEncodings, signal?: AbortSignal): Promise<Float32Array> {
    const rows = pairs.offsets.length - 1;
    const logits = new Float32Array(rows * this.#backend.numLabels);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (rows === 0) return Promise.resolve(logits);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (request.failed || request.remaining === 0) return;
        request.failed = true; // queued rows are skipped; a batch already running finishes
        this.stats.aborted++;
        reject(signal!.reason);
      };
      const request: Request = {
        pairs,
        logits,
        remaining: rows,
        failed: false,
        resolve: (value) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      for (let row = 0; row < rows; row++) {
        this.#queue.push({ request, row, length: pairs.offsets[row + 1] - pairs.offsets[row] });
      }
      this.#schedule();
    });
  }

  /** Calls `listener` after every backend batch (metrics); returns the unsubscribe function. */
  onBatch(listener: (batch: BatchEvent) => void): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  /** Tokens waiting to run (queued, or in the current round and not yet run): the backlog a new request waits behind. */
  pendingTokens(): number {
    let tokens = 0;
    for (const q of this.#queue) if (!q.request.failed) tokens += q.length;
    for (const q of this.#round) if (!q.request.failed && !q.done) tokens += q.length;
    return tokens;
  }

  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      void this.#pump();
    };
    if (this.#options.maxWaitMs) setTimeout(run, this.#options.maxWaitMs);
    else setImmediate(run);
  }

  async #pump(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const round = this.#queue.filter((q) => !q.request.failed);
        this.#queue = [];
        this.#round = round;
        const budget = { batchTokens: this.#options.batchTokens };
        const prefixed = this.#backend.sharesPrefixes && round.every((q) => q.request.pairs.prefixLengths);
        const lengths = round.map((q) => q.length);
        const batches = prefixed
          ? planPrefixBatches(prefixRows(round), budget)
          : this.#backend.packsRows
            ? planPackedBatches(lengths, budget)
            : planBatches(lengths, budget);
        for (const batch of batches) await this.#runBatch(batch, round);
      }
    } finally {
      this.#round = [];
      this.#running = false;
    }
  }

  async #runBatch(batch: Int32Array, round: QueuedRow[]): Promise<void> {
    const members: QueuedRow[] = [];
    for (let b = 0; b < batch.length; b++) {
      const q = round[batch[b]];
      q.done = true;
      if (!q.request.failed) members.push(q);
    }
    if (members.length === 0) return;
    const merged = mergeRows(members);
    let out: Float32Array;
    const started = performance.now();
    try {
      const rows = new Int32Array(members.length);
      for (let i = 0; i < rows.length; i++) rows[i] = i;
      out = await this.#backend.run(merged, rows, this.#padId);
    } catch (error) {
      for (const q of members) {
        if (q.request.failed) continue;
        q.request.failed = true;
        q.request.reject(error);
      }
      return;
    }
    const tokens = merged.offsets[members.length];
    const ms = performance.now() - started;
    const rate = ms / Math.max(1, tokens);
    for (const listener of this.#batchListeners) listener({ rows: members.length, tokens, ms });
    this.stats.msPerToken = this.stats.batches === 0 ? rate : 0.8 * this.stats.msPerToken + 0.2 * rate;
    this.stats.batches++;
    this.stats.rows += members.length;
    const labels = this.#backend.numLabels;
    members.forEach((q, i) => {
      for (let l = 0; l < labels; l++) q.request.logits[q.row * labels + l] = out[i * labels + l];
      if (--q.request.remaining === 0 && !q.request.failed) q.request.resolve(q.request.logits);
    });
  }
}

/** Each row's prompt-prefix group (rows with the same prefix tokens, whichever request). */
function prefixRows(round: QueuedRow[]): PrefixRow[] {
  const groups = new Map<string, number>();
  return round.map((q) => {
    const prefix = Math.min(q.request.pairs.prefixLengths![q.row], q.length - 1);
    const begin = q.request.pairs.offsets[q.row];
    const key = q.request.pairs.ids.subarray(begin, begin + prefix).join(',');
    if (!groups.has(key)) groups.set(key, groups.size);
    return { group: groups.get(key)!, length: q.length, prefix };
  });
}

/** The rows of several requests as one PairEncodings (copied, in member order). */
function mergeRows(members: QueuedRow[]): PairEncodings {
  const offsets = new Int32Array(members.length + 1);
  members.forEach((q, i) => (offsets[i + 1] = offsets[i] + q.length));
  const ids = new Int32Array(offsets[members.length]);
  const typeIds = new Int32Array(offsets[members.length]);
  // Element loops, not subarray().set(): a rerank request's rows are ~100 tokens, where
  // creating two views per row cost more than the copy (a fifth of the scheduler's time, profiled).
  members.forEach((q, i) => {
    const from = q.request.pairs;
    const begin = from.offsets[q.row];
    const to = offsets[i];
    for (let k = 0; k < q.length; k++) {
      ids[to + k] = from.ids[begin + k];
      typeIds[to + k] = from.typeIds[begin + k];
    }
  });
  const merged: PairEncodings = { ids, typeIds, offsets, truncated: new Uint8Array(members.length) };
  if (members.every((q) => q.request.pairs.prefixLengths)) merged.prefixLengths = Int32Array.from(members, (q) => q.request.pairs.prefixLengths![q.row]);
  return merged;
}
