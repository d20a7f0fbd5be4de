/**
 * The micro-batcher under a concurrent load of 64 clients, with a real cross-encoder
 * (synthetic weights) behind a BM25 pipeline over Cranfield: far fewer backend calls than
 * requests, and the same scores as unbatched, one-at-a-time calls.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { loadDataset } from '../../src/eval/dataset.js';
import { makeModel } from '../../src/model/make-model.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { Bm25Index } from '../../src/retrieval/bm25.js';
import { DocumentStore } from '../../src/retrieval/document-store.js';
import { bertTokenizerDir, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
const modelDir = join(dir.path, 'tiny');
let batched: CrossEncoder;
let unbatched: CrossEncoder;
let queries: string[];
const store = new DocumentStore();
const bm25 = new Bm25Index();

beforeAll(async () => {
  makeModel({ preset: 'tiny', seed: 3, out: modelDir, tokenizer: bertTokenizerDir });
  batched = await CrossEncoder.load(modelDir, { maxWaitMs: 5, batchTokens: 16_384 });
  unbatched = await CrossEncoder.load(modelDir);
  const ds = await loadDataset(join(sharedDir, 'data', 'cranfield'));
  for (const [id, text] of ds.corpus) {
    store.add([{ id, text }]);
    bm25.addText(id, text);
  }
  queries = [...ds.queries.values()].slice(0, 64);
});
afterAll(async () => {
  await batched.dispose();
  await unbatched.dispose();
  dir.cleanup();
});

describe('micro-batcher, 64 concurrent clients', () => {
  it('makes far fewer backend calls than requests, with the scores of unbatched calls', async () => {
    const pipeline = new Pipeline({ retriever: bm25, reranker: batched, documents: store, candidates: 10, topN: 10 });
    const reference = new Pipeline({ retriever: bm25, reranker: unbatched, documents: store, candidates: 10, topN: 10 });

    const before = batched.stats;
    const concurrent = await Promise.all(queries.map((q) => pipeline.search(q)));
    const after = batched.stats;
    const requests = after.requests - before.requests;
    const backendCalls = after.batches - before.batches;
    expect(requests).toBe(64);
    expect(backendCalls).toBeLessThanOrEqual(16);

    let maxDiff = 0;
    for (const [i, q] of queries.entries()) {
      const alone = await reference.search(q); // one request at a time: its own batches only
      expect(concurrent[i].results.map((r) => r.id)).toEqual(alone.results.map((r) => r.id));
      concurrent[i].results.forEach((r, j) => (maxDiff = Math.max(maxDiff, Math.abs(r.score - alone.results[j].score))));
    }
    expect(maxDiff).toBeLessThan(1e-5);
    // The unbatched reference made at least one backend call per request.
    expect(unbatched.stats.batches).toBeGreaterThanOrEqual(64);
  });
});
