/** Hard-negative mining from a first-stage run: no positive is ever a negative; options work. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { documentText, readCorpus } from '../../src/eval/corpus.js';
import { formatExamples, mineNegatives } from '../../src/eval/mine-negatives.js';
import { readQrels, readQueries, readRun, type Qrels } from '../../src/eval/trec-files.js';
import { runCli, sharedDir, tempDir } from '../helpers.js';

const trec = join(sharedDir, 'data', 'trec-dl-2019');
let corpus: Map<string, string>;
let qrels: Qrels;
const queries = readQueries(join(trec, 'queries.tsv'));
const run = readRun(join(trec, 'runs', 'bm25.trec'));

beforeAll(async () => {
  corpus = new Map([...(await readCorpus(join(trec, 'passages.jsonl')))].map(([id, d]) => [id, documentText(d)]));
  qrels = readQrels(join(trec, 'qrels.txt'));
});

/** Texts of every document judged at or above `level` for the query. */
function positiveTexts(qid: string, level: number): Set<string> {
  return new Set([...qrels.get(qid)!].filter(([id, g]) => g >= level && corpus.has(id)).map(([id]) => corpus.get(id)!));
}

describe('mineNegatives', () => {
  it.each([1, 2])('never returns a positive as a negative (relevance level %i)', async (level) => {
    const examples = await mineNegatives(queries, qrels, run, corpus, { relevanceLevel: level, topK: 100, negativesPerPositive: 10 });
    expect(examples.length).toBeGreaterThan(100);
    for (const e of examples) {
      const positives = positiveTexts(e.qid, level);
      expect(positives.has(e.positive)).toBe(true);
      for (const n of e.negatives) expect(positives.has(n)).toBe(false);
      expect(e.negatives.length).toBeLessThanOrEqual(10);
    }
  });

  it('skips the top of the ranking and orders a curriculum from easy to hard', async () => {
    const skipped = await mineNegatives(queries, qrels, run, corpus, { skipTop: 10, curriculum: true });
    for (const e of skipped) expect(e.hardestRank).toBeGreaterThan(10);
    for (let i = 1; i < skipped.length; i++) expect(skipped[i - 1].hardestRank).toBeGreaterThanOrEqual(skipped[i].hardestRank);
  });

  it('drops candidates a reranker scores close to the positives', async () => {
    // A stand-in reranker: positives score 1, candidates alternate 0.95 (too close) and 0.1.
    const rerank = async (_q: string, docs: string[]) => Float32Array.from(docs, (_, i) => (i === 0 ? 1 : i % 2 ? 0.95 : 0.1));
    const examples = await mineNegatives(queries, qrels, run, corpus, { rerank, margin: 0.1, topK: 20, negativesPerPositive: 20 });
    const plain = await mineNegatives(queries, qrels, run, corpus, { topK: 20, negativesPerPositive: 20 });
    const count = (xs: typeof examples) => xs.reduce((n, e) => n + e.negatives.length, 0);
    expect(count(examples)).toBeLessThan(count(plain));
  });

  it('writes triplets and lists as sentence-transformers reads them', async () => {
    const examples = (await mineNegatives(queries, qrels, run, corpus, { negativesPerPositive: 3 })).slice(0, 2);
    const triplets = formatExamples(examples, 'triplets').trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(triplets[0])).toEqual(['query', 'positive', 'negative']);
    expect(triplets).toHaveLength(examples.reduce((n, e) => n + e.negatives.length, 0));
    const lists = formatExamples(examples, 'list').trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(lists[0])).toEqual(['query', 'positive', 'negatives']);
  });

  it('crossrank mine-negatives writes valid JSONL', () => {
    const dir = tempDir();
    try {
      const out = join(dir.path, 'neg.jsonl');
      const r = runCli(['mine-negatives', '--queries', join(trec, 'queries.tsv'), '--qrels', join(trec, 'qrels.txt'),
        '--corpus', join(trec, 'passages.jsonl'), '--run', join(trec, 'runs', 'bm25.trec'), '--out', out, '--format', 'list']);
      expect(r.status, r.stderr).toBe(0);
      const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.length).toBeGreaterThan(100);
      for (const l of lines) expect(l.negatives.length).toBeGreaterThan(0);
    } finally {
      dir.cleanup();
    }
  });
});
