/** The batch scheduler with a recording fake backend: merging, order, budget, failures. */
import { describe, expect, it } from 'vitest';

import type { Backend } from '../../src/backends/backend.js';
import { BatchScheduler } from '../../src/batch-scheduler.js';
import type { PairEncodings } from '../../src/tokenizer/pair-tokenizer.js';

/** Pairs whose first token id encodes (request, row); the fake backend echoes it as the logit. */
function pairs(request: number, lengths: number[]): PairEncodings {
  const offsets = new Int32Array(lengths.length + 1);
  lengths.forEach((l, i) => (offsets[i + 1] = offsets[i] + l));
  const ids = new Int32Array(offsets[lengths.length]);
  lengths.forEach((_, i) => (ids[offsets[i]] = request * 1000 + i));
  return { ids, typeIds: new Int32Array(ids.length), offsets, truncated: new Uint8Array(lengths.length) };
}

class FakeBackend implements Backend {
  readonly name = 'onnx' as const;
  readonly device = 'cpu';
  readonly numLabels = 1;
  readonly batches: { rows: number; longest: number }[] = [];
  failOn?: number; // fail a batch containing this id

  async run(p: PairEncodings, rows: Int32Array): Promise<Float32Array> {
    let longest = 0;
    const out = new Float32Array(rows.length);
    rows.forEach((r, i) => {
      longest = Math.max(longest, p.offsets[r + 1] - p.offsets[r]);
      out[i] = p.ids[p.offsets[r]];
      if (out[i] === this.failOn) throw new Error(`batch with ${this.failOn} failed`);
    });
    this.batches.push({ rows: rows.length, longest });
    await new Promise((resolve) => setImmediate(resolve));
    return out;
  }

  async dispose(): Promise<void> {}
}

describe('BatchScheduler', () => {
  it('returns each request its own logits in row order', async () => {
    const backend = new FakeBackend();
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 64 });
    const result = await scheduler.submit(pairs(3, [5, 20, 1, 9]));
    expect(Array.from(result)).toEqual([3000, 3001, 3002, 3003]);
  });

  it('merges concurrent requests into shared batches within the token budget', async () => {
    const backend = new FakeBackend();
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 100 });
    const requests = [1, 2, 3, 4].map((r) => scheduler.submit(pairs(r, [10, 10])));
    const results = await Promise.all(requests);
    results.forEach((res, r) => expect(Array.from(res)).toEqual([(r + 1) * 1000, (r + 1) * 1000 + 1]));
    expect(backend.batches).toEqual([{ rows: 8, longest: 10 }]); // 8 x 10 <= 100: one batch for all four
    for (const b of backend.batches) expect(b.rows * b.longest).toBeLessThanOrEqual(100);
  });

  it('keeps every batch within the budget for mixed lengths', async () => {
    const backend = new FakeBackend();
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 50 });
    const lengths = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 25));
    await Promise.all([scheduler.submit(pairs(1, lengths)), scheduler.submit(pairs(2, lengths.slice(0, 9)))]);
    expect(backend.batches.reduce((n, b) => n + b.rows, 0)).toBe(49);
    for (const b of backend.batches) expect(b.rows === 1 || b.rows * b.longest <= 50).toBe(true);
  });

  it('rejects only the requests whose rows were in a failed batch', async () => {
    const backend = new FakeBackend();
    backend.failOn = 2000;
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 10 }); // one row per batch
    const [ok, bad] = await Promise.allSettled([scheduler.submit(pairs(1, [10, 10])), scheduler.submit(pairs(2, [10, 10]))]);
    expect(ok).toEqual({ status: 'fulfilled', value: Float32Array.from([1000, 1001]) });
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason.message).toMatch(/2000 failed/);
    // The scheduler keeps working afterwards.
    backend.failOn = undefined;
    expect(Array.from(await scheduler.submit(pairs(5, [3])))).toEqual([5000]);
  });

  it('resolves an empty request at once', async () => {
    const scheduler = new BatchScheduler(new FakeBackend(), 0, { batchTokens: 10 });
    expect(await scheduler.submit(pairs(1, []))).toHaveLength(0);
  });
});
