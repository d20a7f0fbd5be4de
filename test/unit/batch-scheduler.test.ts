/** The batch scheduler with a recording fake backend: merging, order, budget, failures. */
import { describe, expect, it } from 'vitest';

import type { Backend } from '../../src/backends/backend.js';
import { BatchScheduler } from '../../src/batch-scheduler.js';
import { planBatches, planPackedBatches, planPrefixBatches } from '../../src/batching.js';
import { trecDlWorkload } from '../../src/bench/workload.js';
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

describe('batches for backends that share prompt prefixes (LLM rerankers)', () => {
  /** A query's prompts: `prefix` tokens shared (value q), then the document's own. */
  function prompts(q: number, prefix: number, docLengths: number[]): PairEncodings {
    const p = pairs(q, docLengths.map((l) => prefix + l));
    docLengths.forEach((_, i) => {
      p.ids.fill(q + 1, p.offsets[i], p.offsets[i] + prefix);
      p.ids[p.offsets[i] + prefix] = q * 1000 + i; // the echo id, after the prefix
    });
    return { ...p, prefixLengths: new Int32Array(docLengths.length).fill(prefix) };
  }

  class PrefixBackend extends FakeBackend {
    readonly sharesPrefixes = true;
    readonly costs: { cost: number; prefixes: number }[] = [];
    override async run(p: PairEncodings, rows: Int32Array): Promise<Float32Array> {
      const seen = new Set<number>();
      let cost = 0;
      rows.forEach((r) => {
        const q = p.ids[p.offsets[r]];
        cost += p.offsets[r + 1] - p.offsets[r] - p.prefixLengths![r] + (seen.has(q) ? 0 : p.prefixLengths![r]);
        seen.add(q);
      });
      this.costs.push({ cost, prefixes: seen.size });
      const out = new Float32Array(rows.length);
      rows.forEach((r, i) => (out[i] = p.ids[p.offsets[r] + p.prefixLengths![r]]));
      return out;
    }
  }

  it('planPrefixBatches keeps each group together and counts its prefix once', () => {
    const rows = [
      ...[30, 10, 20, 25].map((l) => ({ group: 0, length: 70 + l, prefix: 70 })),
      ...[40, 5].map((l) => ({ group: 1, length: 60 + l, prefix: 60 })),
    ];
    const batches = planPrefixBatches(rows, { batchTokens: 200 });
    expect(batches.map((b) => Array.from(b))).toEqual([[0, 3, 2, 1], [4, 5]]); // 70 + 85 = 155; 60 + 45 = 105
    // Padded counting would have cut group 0 (4 x 100 > 200): sharing needs the packed cost.
    expect(planBatches(rows.map((r) => r.length), { batchTokens: 200 }).length).toBeGreaterThan(2);
    const tight = planPrefixBatches(rows, { batchTokens: 120 });
    expect(tight.flatMap((b) => Array.from(b)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const b of tight) {
      const groups = new Set(Array.from(b, (i) => rows[i].group));
      const cost = Array.from(b, (i) => rows[i].length - rows[i].prefix).reduce((a, c) => a + c, 0) +
        [...groups].reduce((a, g) => a + rows.find((r) => r.group === g)!.prefix, 0);
      if (b.length > 1) expect(cost).toBeLessThanOrEqual(120);
    }
  });

  it('the scheduler plans by shared-prefix cost for such backends, and answers each row', async () => {
    const backend = new PrefixBackend();
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 400 });
    const [a, b] = await Promise.all([
      scheduler.submit(prompts(1, 70, [30, 90, 10, 60])),
      scheduler.submit(prompts(2, 65, [80, 20, 40])),
    ]);
    expect(Array.from(a)).toEqual([1000, 1001, 1002, 1003]);
    expect(Array.from(b)).toEqual([2000, 2001, 2002]);
    // 70 + 190 and 65 + 140: each query's documents in one batch with its prefix once.
    expect(backend.costs).toEqual([{ cost: 260, prefixes: 1 }, { cost: 205, prefixes: 1 }]);
  });
});

describe('batches for backends that pack rows without padding (the native engine)', () => {
  class PackingBackend extends FakeBackend {
    readonly packsRows = true;
    readonly tokens: number[] = [];
    override async run(p: PairEncodings, rows: Int32Array): Promise<Float32Array> {
      this.tokens.push(rows.reduce((n, r) => n + p.offsets[r + 1] - p.offsets[r], 0));
      return super.run(p, rows);
    }
  }

  it('planPackedBatches fills the budget with real tokens, longest first, every row once', () => {
    const lengths = [5, 40, 12, 40, 7, 90, 1, 33];
    const batches = planPackedBatches(lengths, { batchTokens: 100 });
    expect(batches.map((b) => Array.from(b))).toEqual([[5], [1, 3], [7, 2, 4, 0, 6]]); // 90; 80; 33+12+7+5+1 = 58
    for (const b of batches) expect(Array.from(b, (i) => lengths[i]).reduce((a, c) => a + c, 0)).toBeLessThanOrEqual(100);
    // A row longer than the budget runs alone; maxBatchSize caps the rows.
    expect(planPackedBatches([300, 2, 2], { batchTokens: 100 }).map((b) => Array.from(b))).toEqual([[0], [1, 2]]);
    expect(planPackedBatches([1, 1, 1, 1, 1], { batchTokens: 100, maxBatchSize: 2 }).map((b) => b.length)).toEqual([2, 2, 1]);
    expect(planPackedBatches([], { batchTokens: 100 })).toEqual([]);
  });

  it('a rerank request of 100 TREC DL passages is one call on the CUDA budget, where padded counting makes two', async () => {
    const work = trecDlWorkload(1, 100, 3);
    const queryWords = work.queries[0].split(' ').length;
    const lengths = work.docs[0].map((d) => queryWords + d.split(' ').length + 3);
    const budget = { batchTokens: 16_384 }; // CrossEncoder's default on CUDA
    expect(planBatches(lengths, budget).length).toBe(2); // the longest passage x 100 rows is over the budget
    const backend = new PackingBackend();
    const scheduler = new BatchScheduler(backend, 0, budget);
    const logits = await scheduler.submit(pairs(4, lengths));
    expect(Array.from(logits)).toEqual(lengths.map((_, i) => 4000 + i));
    expect(backend.tokens).toEqual([lengths.reduce((a, c) => a + c, 0)]);
  });

  it('the scheduler keeps each packed batch within the budget across merged requests', async () => {
    const backend = new PackingBackend();
    const scheduler = new BatchScheduler(backend, 0, { batchTokens: 60 });
    const lengths = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 25));
    const [a, b] = await Promise.all([scheduler.submit(pairs(1, lengths)), scheduler.submit(pairs(2, lengths.slice(0, 9)))]);
    expect(Array.from(a)).toEqual(lengths.map((_, i) => 1000 + i));
    expect(Array.from(b)).toEqual(lengths.slice(0, 9).map((_, i) => 2000 + i));
    expect(backend.tokens.reduce((n, t) => n + t, 0)).toBe(lengths.reduce((n, l) => n + l, 0) + lengths.slice(0, 9).reduce((n, l) => n + l, 0));
    for (const t of backend.tokens) expect(t).toBeLessThanOrEqual(60);
  });
});
