/**
 * Merges the rows of concurrent requests into shared backend batches. Each request's
 * encoded pairs join a queue; when the backend is free, everything queued is sorted by
 * length and cut into batches by the token budget (rows x longest), so short requests
 * arriving together share one batch instead of running one after another, and a GPU gets
 * full batches. Logits are scattered back to their requests; a failed batch rejects only
 * the requests that had rows in it.
 */
import { planBatches } from './batching.js';
import type { Backend } from './backends/backend.js';
import type { PairEncodings } from './tokenizer/pair-tokenizer.js';

export interface BatchSchedulerOptions {
  /** Padded tokens per backend batch. */
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
}

export interface SchedulerStats {
  batches: number;
  rows: number;
}

export class BatchScheduler {
  readonly stats: SchedulerStats = { batches: 0, rows: 0 };
  readonly #backend: Backend;
  readonly #padId: number;
  readonly #options: BatchSchedulerOptions;
  #queue: QueuedRow[] = [];
  #scheduled = false;
  #running = false;

  constructor(backend: Backend, padId: number, options: BatchSchedulerOptions) {
    this.#backend = backend;
    this.#padId = padId;
    this.#options = options;
  }

  /** Raw logits (rows x numLabels) for every pair of `pairs`, in order. */
  submit(pairs: PairEncodings): Promise<Float32Array> {
    const rows = pairs.offsets.length - 1;
    const logits = new Float32Array(rows * this.#backend.numLabels);
    if (rows === 0) return Promise.resolve(logits);
    return new Promise((resolve, reject) => {
      const request: Request = { pairs, logits, remaining: rows, failed: false, resolve, reject };
      for (let row = 0; row < rows; row++) {
        this.#queue.push({ request, row, length: pairs.offsets[row + 1] - pairs.offsets[row] });
      }
      this.#schedule();
    });
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
        const batches = planBatches(
          round.map((q) => q.length),
          { batchTokens: this.#options.batchTokens },
        );
        for (const batch of batches) await this.#runBatch(batch, round);
      }
    } finally {
      this.#running = false;
    }
  }

  async #runBatch(batch: Int32Array, round: QueuedRow[]): Promise<void> {
    const members = Array.from(batch, (i) => round[i]).filter((q) => !q.request.failed);
    if (members.length === 0) return;
    const merged = mergeRows(members);
    let out: Float32Array;
    try {
      out = await this.#backend.run(merged, Int32Array.from(members.keys()), this.#padId);
    } catch (error) {
      for (const q of members) {
        if (q.request.failed) continue;
        q.request.failed = true;
        q.request.reject(error);
      }
      return;
    }
    this.stats.batches++;
    this.stats.rows += members.length;
    const labels = this.#backend.numLabels;
    members.forEach((q, i) => {
      q.request.logits.set(out.subarray(i * labels, (i + 1) * labels), q.row * labels);
      if (--q.request.remaining === 0 && !q.request.failed) q.request.resolve(q.request.logits);
    });
  }
}

/** The rows of several requests as one PairEncodings (copied, in member order). */
function mergeRows(members: QueuedRow[]): PairEncodings {
  const offsets = new Int32Array(members.length + 1);
  members.forEach((q, i) => (offsets[i + 1] = offsets[i] + q.length));
  const ids = new Int32Array(offsets[members.length]);
  const typeIds = new Int32Array(offsets[members.length]);
  members.forEach((q, i) => {
    const begin = q.request.pairs.offsets[q.row];
    ids.set(q.request.pairs.ids.subarray(begin, begin + q.length), offsets[i]);
    typeIds.set(q.request.pairs.typeIds.subarray(begin, begin + q.length), offsets[i]);
  });
  return { ids, typeIds, offsets, truncated: new Uint8Array(members.length) };
}
