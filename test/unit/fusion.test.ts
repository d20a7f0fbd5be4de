/** Fusion: RRF and weighted fusion by hand on small lists, and `crossrank fuse` on TREC DL 2019. */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { evaluate } from '../../src/eval/metrics.js';
import { parseRun, readQrels } from '../../src/eval/trec-files.js';
import { fuseLists } from '../../src/retrieval/fusion.js';
import { runCli, sharedDir, tempDir } from '../helpers.js';

const dl = join(sharedDir, 'data', 'trec-dl-2019');
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('fuseLists', () => {
  const a = [{ id: 'x', score: 9 }, { id: 'y', score: 5 }, { id: 'z', score: 1 }];
  const b = [{ id: 'z', score: 0.9 }, { id: 'w', score: 0.8 }];

  it('sums 1/(k + rank) over the lists, ranks from their scores', () => {
    const fused = fuseLists([a, [...b].reverse()], { k: 10 });
    const expected: Record<string, number> = { x: 1 / 11, y: 1 / 12, z: 1 / 13 + 1 / 11, w: 1 / 12 };
    expect(fused.map((e) => e.id)).toEqual(['z', 'x', 'w', 'y']); // w and y tie: id ascending
    for (const e of fused) expect(e.score).toBeCloseTo(expected[e.id], 15);
  });

  it('weighted fusion min-max normalises each list', () => {
    const fused = fuseLists([a, b], { method: 'weighted', weights: [1, 2] });
    const byId = Object.fromEntries(fused.map((e) => [e.id, e.score]));
    expect(byId).toEqual({ x: 1, y: 0.5, z: 0 + 2 * 1, w: 0 });
    expect(fused[0].id).toBe('z');
    // A list whose scores are all equal counts fully for each of its documents.
    expect(fuseLists([[{ id: 'p', score: 3 }, { id: 'q', score: 3 }]], { method: 'weighted' }).map((e) => e.score)).toEqual([1, 1]);
  });

  it('rejects bad options', () => {
    expect(() => fuseLists([a, b], { weights: [1] })).toThrow(/1 weights given for 2 inputs/);
    expect(() => fuseLists([a], { method: 'max' as 'rrf' })).toThrow(/'rrf' or 'weighted'/);
    expect(() => fuseLists([a], { k: -1 })).toThrow(/k must be/);
    expect(() => fuseLists([], {})).toThrow(/at least one/);
    expect(fuseLists([a, b], { topK: 2 })).toHaveLength(2);
  });
});

describe('crossrank fuse', () => {
  it('RRF (k 60) of the TREC DL 2019 BM25 and SPLADE++ runs: nDCG@10 0.6921, Recall@100 0.5774', () => {
    const out = join(dir.path, 'fused.trec');
    const r = runCli(['fuse', '--runs', join(dl, 'runs', 'bm25.trec'), join(dl, 'runs', 'splade-pp.trec'), '--method', 'rrf', '--k', '60', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const ev = runCli(['eval', '--qrels', join(dl, 'qrels.txt'), '--run', out, '--metrics', 'ndcg_cut.10,recall.100', '--json']);
    expect(JSON.parse(ev.stdout)).toEqual({ 'ndcg_cut.10': 0.6921, 'recall.100': 0.5774 });
  });

  it('weighted fusion to standard output; errors are exit code 2', () => {
    const r = runCli(['fuse', '--runs', join(dl, 'runs', 'bm25.trec'), join(dl, 'runs', 'tas-b.trec'), '--method', 'weighted', '--weights', '0.2,0.8', '--top-k', '10']);
    expect(r.status, r.stderr).toBe(0);
    const run = parseRun(r.stdout);
    expect(run.size).toBe(43);
    for (const list of run.values()) expect(list.length).toBe(10);
    const ndcg = evaluate(readQrels(join(dl, 'qrels.txt')), run, ['ndcg_cut.10']).mean['ndcg_cut.10'];
    expect(ndcg).toBeGreaterThan(0.5058); // better than BM25 alone
    const bad = runCli(['fuse', '--runs', join(dl, 'runs', 'bm25.trec'), join(dl, 'runs', 'tas-b.trec'), '--method', 'weighted', '--weights', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/1 weights given for 2 inputs \[CROSSRANK_INVALID_ARGUMENT\]/);
    const missing = runCli(['fuse', '--runs', join(dl, 'runs', 'nope.trec'), join(dl, 'runs', 'bm25.trec')]);
    expect(missing.status).toBe(2);
  });
});
