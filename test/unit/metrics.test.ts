/** trec_eval-exact metrics: published values, tie-breaking, unjudged, empty and missing queries. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { evaluate, trecOrder } from '../../src/eval/metrics.js';
import { parseQrels, parseRun, readQrels, readRun } from '../../src/eval/trec-files.js';
import { runCli, sharedDir } from '../helpers.js';

const trec = join(sharedDir, 'data', 'trec-dl-2019');

describe('metrics on TREC DL 2019', () => {
  // Published nDCG@10 of the four runs (trec_eval -m ndcg_cut.10), from ../shared/README.md.
  it.each([
    ['bm25', 0.5058],
    ['bm25-rm3', 0.5216],
    ['tas-b', 0.721],
    ['splade-pp', 0.7308],
  ])('%s nDCG@10 = %f', (run, expected) => {
    const result = evaluate(readQrels(join(trec, 'qrels.txt')), readRun(join(trec, 'runs', `${run}.trec`)), ['ndcg_cut.10']);
    expect(result.queries).toBe(43);
    expect(Number(result.mean['ndcg_cut.10'].toFixed(4))).toBe(expected);
  });

  it('crossrank eval --json prints trec_eval metric names with 4 decimals', () => {
    const run = runCli(['eval', '--qrels', join(trec, 'qrels.txt'), '--run', join(trec, 'runs', 'bm25.trec'), '--json', '--rel-level', '2']);
    expect(run.status, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(Object.keys(json)).toEqual(['ndcg_cut.10', 'map', 'recall.100', 'P.10', 'recip_rank']);
    expect(json['ndcg_cut.10']).toBe(0.5058);
    for (const v of Object.values(json) as number[]) expect(v).toBe(Number(v.toFixed(4)));
  });
});

const qrels = parseQrels(['1 0 a 2', '1 0 b 1', '1 0 c 0', '1 0 d 3', '2 0 x 0', '3 0 y 1'].join('\n'));

describe('trec_eval conventions', () => {
  it('orders by score descending, ties by document id descending, ignoring the rank column', () => {
    const run = parseRun(['1 Q0 a 1 5 t', '1 Q0 z 2 5 t', '1 Q0 b 3 7 t', '1 Q0 c 9 5 t'].join('\n'));
    expect(trecOrder(run.get('1')!).map((e) => e.docid)).toEqual(['b', 'z', 'c', 'a']);
    // With the tie broken by id descending, the first relevant document (b) is at rank 1.
    expect(evaluate(qrels, run, ['recip_rank', 'P.2']).perQuery.get('1')).toEqual({ recip_rank: 1, 'P.2': 0.5 });
  });

  it('computes nDCG with grades as gains, log2 discount and the ideal over all judged documents', () => {
    const run = parseRun(['1 Q0 b 1 3 t', '1 Q0 unjudged 2 2 t', '1 Q0 a 3 1 t'].join('\n'));
    const dcg = 1 / Math.log2(2) + 0 + 2 / Math.log2(4);
    const idcg = 3 / Math.log2(2) + 2 / Math.log2(3) + 1 / Math.log2(4);
    expect(evaluate(qrels, run, ['ndcg_cut.10']).mean['ndcg_cut.10']).toBeCloseTo(dcg / idcg, 12);
    expect(evaluate(qrels, run, ['ndcg_cut.1']).mean['ndcg_cut.1']).toBeCloseTo(1 / 3, 12);
  });

  it('applies the relevance level to binary measures only', () => {
    const run = parseRun(['1 Q0 b 1 3 t', '1 Q0 a 2 2 t'].join('\n'));
    const l1 = evaluate(qrels, run, ['map', 'recall.10', 'P.1', 'ndcg_cut.10']).mean;
    const l2 = evaluate(qrels, run, ['map', 'recall.10', 'P.1', 'ndcg_cut.10'], { relevanceLevel: 2 }).mean;
    expect(l1.map).toBeCloseTo((1 / 1 + 2 / 2) / 3, 12); // a, b, d relevant at level 1
    expect(l2.map).toBeCloseTo((1 / 2) / 2, 12); // a, d at level 2; a found at rank 2
    expect(l1['recall.10']).toBeCloseTo(2 / 3, 12);
    expect(l2['recall.10']).toBeCloseTo(1 / 2, 12);
    expect(l1['P.1']).toBe(1);
    expect(l2['P.1']).toBe(0);
    expect(l2['ndcg_cut.10']).toBe(l1['ndcg_cut.10']);
  });

  it('P.k divides by k even when fewer documents were retrieved', () => {
    const run = parseRun('1 Q0 d 1 1 t');
    expect(evaluate(qrels, run, ['P.10']).mean['P.10']).toBeCloseTo(0.1, 12);
  });

  it('queries without relevant documents score 0 and are averaged in', () => {
    const run = parseRun(['1 Q0 d 1 1 t', '2 Q0 x 1 1 t'].join('\n'));
    const r = evaluate(qrels, run, ['map', 'ndcg_cut.10', 'recip_rank']);
    expect(r.queries).toBe(2);
    expect(r.perQuery.get('2')).toEqual({ map: 0, 'ndcg_cut.10': 0, recip_rank: 0 });
    expect(r.mean.recip_rank).toBe(0.5);
  });

  it('ignores run queries without qrels; counts qrels queries missing from the run only with complete', () => {
    const run = parseRun(['1 Q0 d 1 1 t', '99 Q0 d 1 1 t'].join('\n'));
    expect(evaluate(qrels, run, ['recip_rank']).queries).toBe(1);
    const complete = evaluate(qrels, run, ['recip_rank'], { complete: true });
    expect(complete.queries).toBe(3);
    expect(complete.mean.recip_rank).toBeCloseTo(1 / 3, 12);
  });

  it('mrr.k stops at k', () => {
    const run = parseRun(['1 Q0 c 1 3 t', '1 Q0 b 2 2 t'].join('\n'));
    expect(evaluate(qrels, run, ['mrr.1', 'mrr.10']).mean).toEqual({ 'mrr.1': 0, 'mrr.10': 0.5 });
  });

  it('rejects malformed lines, duplicate documents and unknown metrics', () => {
    expect(() => parseQrels('1 0 a')).toThrow(/qrels:1/);
    expect(() => parseRun('1 Q0 a 1 notanumber t')).toThrow(/run:1/);
    expect(() => parseRun('1 Q0 a 1 1 t\n1 Q0 a 2 0.5 t')).toThrow(/appears twice/);
    expect(() => evaluate(qrels, new Map(), ['ndcg@10'])).toThrow(/unknown metric/);
  });
});
