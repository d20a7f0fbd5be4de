/** BM25 first stage: the plain-BM25 numbers the shared README gives for Cranfield; Cranfield end to end. */
import { readFileSync } from 'node:fs';
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
    expect(index.retrieve('anything', 5)).toEqual([]);
    index.add('a', 'wing flutter at supersonic speed');
    index.add('b', 'boundary layer on a flat plate');
    index.add('c', 'flutter flutter flutter of a wing panel');
    const hits = index.retrieve('wing flutter', 10);
    expect(hits.map((h) => h.id)).toEqual(['c', 'a']);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    expect(index.retrieve('nothing matches', 10)).toEqual([]);
    expect(() => index.retrieve('q', 0)).toThrow(/k must be/);
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
