/**
 * The pipeline with stand-in rerankers and embedders (fast, deterministic): stage order,
 * filters, passages, the latency plan and deadline, and the stage-3 rules, MMR and cascade.
 */
import { describe, expect, it } from 'vitest';

import { FunctionEmbedder } from '../../src/embedding/embedder.js';
import { CostModel } from '../../src/pipeline/cost-model.js';
import { aggregate, resolvePassageOptions, splitPassages } from '../../src/pipeline/passages.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { planRerank } from '../../src/pipeline/plan.js';
import type { Reranker } from '../../src/pipeline/reranker.js';
import { Bm25Index } from '../../src/retrieval/bm25.js';
import { DocumentStore } from '../../src/retrieval/document-store.js';

const words = (t: string) => t.toLowerCase().match(/[a-z0-9]+/g) ?? [];

/** Scores by query-term overlap (ties broken by a term-independent hash), optionally slow. */
function overlapReranker(options: { msPerCall?: number; maxLength?: number; invert?: boolean } = {}): Reranker & { calls: number; texts: string[][] } {
  const r = {
    calls: 0,
    texts: [] as string[][],
    info: { maxLength: options.maxLength ?? 512, model: 'overlap' },
    async score(query: string, docs: readonly string[]) {
      r.calls++;
      r.texts.push([...docs]);
      if (options.msPerCall) await new Promise((resolve) => setTimeout(resolve, options.msPerCall));
      const q = new Set(words(query));
      return Float32Array.from(docs, (d) => {
        const s = words(d).filter((w) => q.has(w)).length + (d.length % 7) / 100;
        return options.invert ? -s : s;
      });
    },
    async countTokens(texts: readonly string[]) {
      return Int32Array.from(texts, (t) => words(t).length);
    },
  };
  return r;
}

function corpus(docs: { id: string; text: string; metadata?: Record<string, unknown> }[]) {
  const store = new DocumentStore();
  store.add(docs);
  const bm25 = new Bm25Index();
  for (const d of docs) bm25.addText(d.id, d.text);
  return { store, bm25 };
}

const animals = corpus([
  { id: 'a', text: 'cats purr and cats sleep', metadata: { lang: 'en', year: 2020 } },
  { id: 'b', text: 'dogs bark at cats', metadata: { lang: 'en', year: 2010 } },
  { id: 'c', text: 'katzen schnurren cats', metadata: { lang: 'de', year: 2021 } },
  { id: 'd', text: 'birds sing in the morning', metadata: { lang: 'en', year: 2022 } },
  { id: 'e', text: 'cats cats cats purr sleep purr', metadata: { lang: 'en', year: 2000 } },
]);

describe('Pipeline', () => {
  it('reranks stage-1 candidates and reports both ranks', async () => {
    const reranker = overlapReranker();
    const p = new Pipeline({ retriever: animals.bm25, reranker, documents: animals.store, topN: 3 });
    const r = await p.search('do cats purr');
    expect(r.partial).toBe(false);
    expect(r.results).toHaveLength(3);
    expect(r.results.every((x) => x.reranked)).toBe(true);
    expect(r.results[0].id).toBe('e'); // 5 overlapping words
    const scores = r.results.map((x) => x.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
    expect(r.results[0].document?.text).toMatch(/purr/);
    expect(new Set(r.results.map((x) => x.stage1Rank)).size).toBe(3);
    expect(r.counts).toEqual({ candidates: 4, reranked: 4, truncated: 0 });
    expect(reranker.calls).toBe(1);
  });

  it('filters by metadata during stage 1', async () => {
    const p = new Pipeline({ retriever: animals.bm25, reranker: overlapReranker(), documents: animals.store });
    const r = await p.search('cats', { filter: { lang: 'en', year: { $gte: 2010 } } });
    expect(r.results.map((x) => x.id).sort()).toEqual(['a', 'b']);
    await expect(p.search('cats', { filter: { year: { $after: 1 } } as never })).rejects.toThrow(/unknown operator/);
  });

  it('without a reranker returns stage-1 order', async () => {
    const p = new Pipeline({ retriever: animals.bm25, documents: animals.store, topN: 2 });
    const r = await p.search('cats purr');
    expect(r.results.map((x) => x.stage1Rank)).toEqual([1, 2]);
    expect(r.results.every((x) => !x.reranked && x.score === x.stage1Score)).toBe(true);
  });

  it('rejects bad options with typed errors', () => {
    expect(() => new Pipeline({} as never)).toThrow(/needs a retriever/);
    expect(() => new Pipeline({ retriever: animals.bm25, candidates: 0 })).toThrow(/candidates must be a positive integer/);
    expect(() => new Pipeline({ retriever: animals.bm25, budgetMs: -5 })).toThrow(/budgetMs must be a positive number/);
    expect(() => new Pipeline({ retriever: animals.bm25, stages: [{ type: 'sort' } as never] })).toThrow(/stages\[0\]\.type/);
    expect(() => new Pipeline({ retriever: animals.bm25, passages: { overlap: 1 } })).toThrow(/overlap/);
  });
});

describe('passages', () => {
  const options = resolvePassageOptions(true)!;
  it('splits long texts into overlapping passages that fit, and aggregates', () => {
    const text = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const { passages, dropped } = splitPassages(text, 100, 20, options);
    expect(dropped).toBe(false);
    for (const p of passages) expect(p.split(' ').length).toBeLessThanOrEqual(20);
    expect(passages[0].split(' ')[0]).toBe('w0');
    expect(passages.at(-1)!.split(' ').at(-1)).toBe('w99');
    const second = passages[1].split(' ');
    expect(passages[0].split(' ')).toContain(second[0]); // overlap
    expect(splitPassages('short text', 2, 20, options).passages).toEqual(['short text']);
    expect(splitPassages(text, 100, 5, { ...options, maxPassages: 3 })).toMatchObject({ dropped: true });
    expect(aggregate([1, 5, 3], options)).toBe(5);
    expect(aggregate([1, 5, 3, 4], { ...options, aggregate: 'mean-top-k', topK: 2 })).toBe(4.5);
  });

  it('a document relevant only at its end wins with MaxP; without passages it is truncated (and reported)', async () => {
    const filler = Array.from({ length: 60 }, (_, i) => `filler${i}`).join(' ');
    const docs = corpus([
      { id: 'long', text: `${filler} zebra stripes` },
      { id: 'short', text: 'zebra' },
    ]);
    const truncating: Reranker = {
      ...overlapReranker({ maxLength: 20 }),
      async scoreDetailed(query, texts) {
        const cut = texts.map((t) => words(t).slice(0, 20 - words(query).length - 3).join(' '));
        return { scores: await overlapReranker().score(query, cut), truncated: Uint8Array.from(texts, (t) => (words(t).length + words(query).length + 3 > 20 ? 1 : 0)) };
      },
    };
    const plain = await new Pipeline({ retriever: docs.bm25, reranker: truncating, documents: docs.store }).search('zebra stripes');
    expect(plain.results[0].id).toBe('short');
    expect(plain.results.find((r) => r.id === 'long')!.truncated).toBe(true);
    const maxp = await new Pipeline({ retriever: docs.bm25, reranker: truncating, documents: docs.store, passages: true }).search('zebra stripes');
    expect(maxp.results[0].id).toBe('long');
    expect(maxp.results[0].passages).toBeGreaterThan(1);
    expect(maxp.results[0].truncated).toBeUndefined();
  });
});

describe('latency budget', () => {
  const cost = new CostModel({ perCallMs: 1, perTokenMs: 0.1 });
  it('plans the candidates that fit, then shorter documents for the minimum', () => {
    const base = { cost, pairCounts: Array(10).fill(1), queryTokens: 5, chunkSize: 4, minCandidates: 2 };
    expect(planRerank({ ...base, remainingMs: 1000, pairTokens: Array(10).fill(100), fill: 1 })).toEqual({ count: 10 });
    expect(planRerank({ ...base, remainingMs: 33, pairTokens: Array(10).fill(100), fill: 1 })).toEqual({ count: 3 });
    const cut = planRerank({ ...base, remainingMs: 12, pairTokens: Array(10).fill(500), fill: 1 });
    expect(cut.count).toBe(2);
    expect(cut.docTokenCap).toBe(Math.floor((12 - 1) / 0.1 / 2 - 5 - 3));
    expect(planRerank({ ...base, remainingMs: 2, pairTokens: Array(10).fill(500), fill: 1 })).toEqual({ count: 0 });
  });

  it('adapts the cost model to observed timings', () => {
    const m = new CostModel({ perCallMs: 0, perTokenMs: 0.1 });
    for (let i = 0; i < 50; i++) m.observe(100, 50);
    expect(m.perTokenMs).toBeCloseTo(0.5, 3);
    expect(() => new CostModel({ perCallMs: 0, perTokenMs: 0 })).toThrow(/perTokenMs > 0/);
  });

  it('returns at the deadline with what is reranked, then stage-1 order, marked partial', async () => {
    const docs = corpus(Array.from({ length: 80 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, text: `cats ${'purr '.repeat(i % 5)} ${i}` })));
    const slow = overlapReranker({ msPerCall: 40 });
    // The cost model believes reranking is cheap, so the plan takes everything and the deadline must cut it.
    const p = new Pipeline({ retriever: docs.bm25, reranker: slow, documents: docs.store, candidates: 80, topN: 80, budgetMs: 100, cost: { perCallMs: 0, perTokenMs: 1e-4 } });
    const r = await p.search('cats purr');
    expect(r.partial).toBe(true);
    expect(r.counts.reranked).toBeGreaterThan(0);
    expect(r.counts.reranked).toBeLessThan(80);
    const firstUnscored = r.results.findIndex((x) => !x.reranked);
    expect(r.results.slice(firstUnscored).every((x) => !x.reranked)).toBe(true);
    const tail = r.results.slice(firstUnscored).map((x) => x.stage1Rank);
    expect([...tail].sort((x, y) => x - y)).toEqual(tail);
    expect(r.timings.totalMs).toBeLessThan(100 + 40); // not a speed test: only that it did not wait for every chunk
  });

  it('plans fewer candidates when the measured cost says so', async () => {
    const docs = corpus(Array.from({ length: 50 }, (_, i) => ({ id: `d${i}`, text: `cats ${'word '.repeat(20)} ${i}` })));
    const reranker = overlapReranker();
    const p = new Pipeline({ retriever: docs.bm25, reranker, documents: docs.store, candidates: 50, budgetMs: 50, cost: { perCallMs: 0, perTokenMs: 0.05 }, minCandidates: 5 });
    const r = await p.search('cats');
    expect(r.partial).toBe(true);
    expect(r.counts.reranked).toBeLessThan(50);
    expect(r.counts.reranked).toBeGreaterThanOrEqual(5);
  });

  it('measures the reranker at start-up when no profile is given', async () => {
    const p = new Pipeline({ retriever: animals.bm25, reranker: overlapReranker({ msPerCall: 2 }), documents: animals.store, budgetMs: 500 });
    await p.ready;
    expect(p.cost!.perTokenMs).toBeGreaterThan(0);
    expect((await p.search('cats')).partial).toBe(false);
  });
});

describe('stage 3', () => {
  it('rules: filter and boost by metadata', async () => {
    const p = new Pipeline({
      retriever: animals.bm25, reranker: overlapReranker(), documents: animals.store,
      stages: [{ type: 'rules', filter: { lang: 'en' }, boosts: [{ when: { year: { $gte: 2015 } }, multiply: 10 }] }],
    });
    const r = await p.search('cats purr sleep');
    expect(r.results.some((x) => x.document?.metadata?.lang === 'de')).toBe(false);
    expect(r.results[0].id).toBe('a'); // boosted past 'e', which matches more words
    expect(r.results.find((x) => x.id === 'e')!.stage1Rank).toBeGreaterThan(0);
  });

  it('MMR removes near-duplicates from the top', async () => {
    const dup = 'solar panels convert sunlight into electricity';
    const docs = corpus([
      { id: 'orig', text: dup },
      { id: 'copy1', text: dup },
      { id: 'copy2', text: `${dup}.` },
      { id: 'wind', text: 'wind turbines convert wind into electricity' },
      { id: 'hydro', text: 'hydro dams turn water into electricity' },
    ]);
    const dimension = 64;
    const hashed = new FunctionEmbedder((texts) => texts.map((t) => {
      const v = new Float32Array(dimension);
      for (const w of words(t)) v[[...w].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7) % dimension] += 1;
      return v;
    }), { dimension });
    const base = { retriever: docs.bm25, reranker: overlapReranker(), documents: docs.store, topN: 3 };
    const plain = await new Pipeline(base).search('solar electricity convert');
    expect(plain.results.map((x) => x.id).sort()).toEqual(['copy1', 'copy2', 'orig']);
    const diverse = await new Pipeline({ ...base, stages: [{ type: 'mmr', embedder: hashed, lambda: 0.3 }] }).search('solar electricity convert');
    const top = diverse.results.map((x) => x.id);
    expect(top.filter((id) => ['orig', 'copy1', 'copy2'].includes(id))).toHaveLength(1);
    expect(top).toEqual(expect.arrayContaining(['wind', 'hydro']));
    const keep = await new Pipeline({ ...base, stages: [{ type: 'mmr', embedder: hashed, lambda: 1 }] }).search('solar electricity convert');
    expect(keep.results.map((x) => x.id)).toEqual(plain.results.map((x) => x.id));
  });

  it('cascade: a second reranker reorders only the top N', async () => {
    const docs = corpus(Array.from({ length: 12 }, (_, i) => ({ id: `d${i}`, text: `cats ${'purr '.repeat(i)}` })));
    const second = overlapReranker({ invert: true });
    const base = { retriever: docs.bm25, reranker: overlapReranker(), documents: docs.store, topN: 12 };
    const first = (await new Pipeline(base).search('cats purr')).results.map((x) => x.id);
    const r = await new Pipeline({ ...base, stages: [{ type: 'cascade', reranker: second, topN: 4 }] }).search('cats purr');
    expect(r.results.slice(0, 4).map((x) => x.id)).toEqual(first.slice(0, 4).reverse());
    expect(r.results.slice(4).map((x) => x.id)).toEqual(first.slice(4));
    expect(second.texts[0]).toHaveLength(4);
  });
});
