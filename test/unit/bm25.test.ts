/** BM25 first stage: the plain-BM25 numbers the shared README gives for Cranfield; Cranfield end to end. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadDataset } from '../../src/eval/dataset.js';
import { evaluate } from '../../src/eval/metrics.js';
import { Bm25Index, bm25Tokens } from '../../src/retrieval/bm25.js';
import { bm25FirstStage } from '../../src/retrieval/first-stage.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const cranfield = join(sharedDir, 'data', 'cranfield');
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('Bm25Index', () => {
  it('tokenizes lowercase letters and digits', () => {
    expect(bm25Tokens("Mach-2 flow, Reynolds' NUMBER 3.5e6 — écoulement")).toEqual(['mach', '2', 'flow', 'reynolds', 'number', '3', '5e6', 'écoulement']);
  });

  it('ranks by BM25 and handles empty cases', () => {
    const index = new Bm25Index();
    expect(index.retrieveSync('anything', 5)).toEqual([]);
    index.addText('a', 'wing flutter at supersonic speed');
    index.addText('b', 'boundary layer on a flat plate');
    index.addText('c', 'flutter flutter flutter of a wing panel');
    const hits = index.retrieveSync('wing flutter', 10);
    expect(hits.map((h) => h.id)).toEqual(['c', 'a']);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    expect(index.retrieveSync('nothing matches', 10)).toEqual([]);
    expect(() => index.retrieveSync('q', 0)).toThrow(/k must be/);
    expect(() => new Bm25Index({ b: 2 })).toThrow(/b in \[0, 1\]/);
  });

  it('gives the plain-BM25 Cranfield numbers (nDCG@10 about 0.32, Recall@100 about 0.69)', async () => {
    const ds = await loadDataset(cranfield);
    const { run } = bm25FirstStage(ds.corpus, ds.queries, 100);
    const r = evaluate(ds.qrels, run, ['ndcg_cut.10', 'recall.100']).mean;
    expect(r['ndcg_cut.10']).toBeCloseTo(0.3276, 3);
    expect(r['recall.100']).toBeCloseTo(0.6848, 3);
  });
});

describe('Bm25Index updates and persistence', () => {
  const docs = [
    { id: 'a', text: 'wing flutter at supersonic speed' },
    { id: 'b', text: 'boundary layer on a flat plate' },
    { id: 'c', text: 'flutter flutter flutter of a wing panel' },
    { id: 'd', text: 'heat transfer in a laminar boundary layer' },
  ];
  const queries = ['wing flutter', 'boundary layer', 'heat plate', 'panel'];
  const fresh = (list: typeof docs) => {
    const index = new Bm25Index();
    for (const d of list) index.addText(d.id, d.text);
    return index;
  };

  it('after removals and replacements scores equal a fresh index over the live documents', async () => {
    const index = fresh(docs);
    index.retrieveSync('x', 1); // freeze, so the updates below must invalidate it
    expect(await index.remove(['b', 'nope'])).toBe(1);
    index.addText('a', 'a laminar wing'); // replaces a
    const live = [docs[2], docs[3], { id: 'a', text: 'a laminar wing' }];
    expect(index.size).toBe(3);
    for (const q of queries) expect(index.retrieveSync(q, 10)).toEqual(fresh(live).retrieveSync(q, 10));
  });

  it('saves and loads to identical results; filters apply during the search', async () => {
    const index = fresh(docs);
    await index.remove(['d']);
    await index.save(dir.path);
    const loaded = await Bm25Index.load(dir.path);
    for (const q of queries) expect(loaded.retrieveSync(q, 10)).toEqual(index.retrieveSync(q, 10));
    loaded.addText('e', 'wing wing wing');
    expect(loaded.retrieveSync('wing', 1)[0].id).toBe('e');
    expect(loaded.retrieveSync('wing flutter', 1, { accept: (id) => id !== 'c' && id !== 'e' })).toEqual([{ id: 'a', score: expect.any(Number) }]);
  });

  it('a corrupt or foreign file is an IndexLoadError naming the problem', async () => {
    const index = fresh(docs);
    const bytes = Buffer.concat(index.serialize());
    const check = (b: Buffer, pattern: RegExp) => expect(() => Bm25Index.deserialize(b, 'x')).toThrow(pattern);
    check(Buffer.from('hello world, not an index'), /not a crossrank BM25 index/);
    check(bytes.subarray(0, bytes.length - 3), /past the end|unexpected bytes/);
    const badVersion = Buffer.from(bytes);
    badVersion.writeUInt32LE(9, 8);
    check(badVersion, /format version 9/);
    const postings = docs.reduce((n, d) => n + new Set(bm25Tokens(d.text)).size, 0);
    const badDoc = Buffer.from(bytes);
    badDoc.writeInt32LE(99, bytes.length - 8 * postings); // the first posting's document
    check(badDoc, /posting 0 names document 99 of 4/);
    const badTf = Buffer.from(bytes);
    badTf.writeUInt32LE(0, bytes.length - 4);
    check(badTf, /zero term frequency/);
    writeFileSync(join(dir.path, 'bm25.bin'), 'garbage');
    await expect(Bm25Index.load(dir.path)).rejects.toMatchObject({ code: 'CROSSRANK_INDEX_LOAD' });
  });
});

describe('Cranfield end to end with BM25 as stage 1', () => {
  it('eval-pipeline runs with a synthetic reranker and writes the report', () => {
    const model = join(dir.path, 'tiny');
    makeModel({ preset: 'tiny', seed: 1, out: model, tokenizer: bertTokenizerDir });
    const report = join(dir.path, 'cranfield.html');
    const run = runCli(['eval-pipeline', '--data', cranfield, '--reranker', model, '--queries', '10', '--top-k', '50', '--json', '--report', report]);
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r.queries).toBe(10);
    expect(r.stage1.latencyMs.p50).toBeGreaterThanOrEqual(0);
    expect(r.reranked.metrics['recall.50']).toBeCloseTo(r.stage1.metrics['recall.50'], 12);
    expect(readFileSync(report, 'utf8')).toMatch(/<svg/);
  });

  it('mine-negatives with BM25 never emits a positive as a negative', async () => {
    const out = join(dir.path, 'negatives.jsonl');
    const run = runCli(['mine-negatives', '--queries', join(cranfield, 'queries.tsv'), '--qrels', join(cranfield, 'qrels.txt'),
      '--corpus', join(cranfield, 'docs.jsonl'), '--out', out, '--format', 'list', '--top-k', '30']);
    expect(run.status, run.stderr).toBe(0);
    const ds = await loadDataset(cranfield);
    const byQuery = new Map([...ds.queries].map(([qid, text]) => [text, qid]));
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { query: string; positive: string; negatives: string[] });
    expect(lines.length).toBeGreaterThan(500);
    for (const l of lines) {
      const qid = byQuery.get(l.query)!;
      const positives = new Set([...ds.qrels.get(qid)!].filter(([, g]) => g >= 1).map(([id]) => ds.corpus.get(id)));
      expect(positives.has(l.positive)).toBe(true);
      for (const n of l.negatives) expect(positives.has(n)).toBe(false);
    }
  });
});
