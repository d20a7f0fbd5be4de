/** eval-pipeline: stage 1 vs reranked with diagnostics, on TREC DL 2019 and a BEIR-layout folder. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadDataset } from '../../src/eval/dataset.js';
import { histogram, kendallTau, pairedComparison } from '../../src/eval/diagnostics.js';
import { evaluatePipeline } from '../../src/eval/pipeline-eval.js';
import { readRun } from '../../src/eval/trec-files.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const trec = join(sharedDir, 'data', 'trec-dl-2019');
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('diagnostics', () => {
  it("Kendall's tau: 1 for the same order, -1 reversed, tau-b with ties", () => {
    expect(kendallTau([0, 1, 2, 3], [0, 1, 2, 3])).toBe(1);
    expect(kendallTau([0, 1, 2, 3], [3, 2, 1, 0])).toBe(-1);
    expect(kendallTau([0, 1, 2], [0, 2, 1])).toBeCloseTo(1 / 3, 12);
  });

  it('paired comparison counts wins, losses, ties and brackets the mean difference', () => {
    const c = pairedComparison([0.1, 0.5, 0.3, 0.3], [0.4, 0.2, 0.3, 0.6]);
    expect([c.wins, c.losses, c.ties]).toEqual([2, 1, 1]);
    expect(c.meanDifference).toBeCloseTo(0.075, 12);
    expect(c.ci95[0]).toBeLessThanOrEqual(c.meanDifference);
    expect(c.ci95[1]).toBeGreaterThanOrEqual(c.meanDifference);
  });

  it('histogram puts every value in a bin', () => {
    const h = histogram([0, 0.5, 1, 1], 2);
    expect(h.counts).toEqual([1, 3]);
  });
});

describe('evaluatePipeline on TREC DL 2019', () => {
  it('with a run as the reranker: BM25 -> SPLADE++ order over the same candidates', async () => {
    const dataset = await loadDataset(trec);
    const report = await evaluatePipeline(dataset, readRun(join(trec, 'runs', 'bm25.trec')), {
      rerankedRun: readRun(join(trec, 'runs', 'splade-pp.trec')),
    });
    expect(report.queries).toBe(43);
    expect(report.stage1.metrics['ndcg_cut.10']).toBeCloseTo(0.5058, 4);
    expect(report.reranked.metrics['ndcg_cut.10']).toBeGreaterThan(report.stage1.metrics['ndcg_cut.10']);
    // Reranking never changes which documents are in the top-K.
    expect(report.reranked.metrics['recall.100']).toBeCloseTo(report.stage1.metrics['recall.100'], 12);
    expect(report.ndcg10.wins + report.ndcg10.losses + report.ndcg10.ties).toBe(43);
    expect(report.ndcg10.ci95[0]).toBeGreaterThan(0); // a clear improvement
    expect(report.recallCeiling.relevant).toBe(report.recallCeiling.retrieved + report.recallCeiling.missed);
    expect(report.kendallTau).toBeGreaterThan(-1);
    expect(report.kendallTau).toBeLessThan(1);
    expect(report.scoreDistributions).not.toBeNull();
  });

  it('with a synthetic model as the reranker (plumbing, not quality), through the CLI', () => {
    const model = join(dir.path, 'tiny');
    makeModel({ preset: 'tiny', seed: 1, out: model, tokenizer: bertTokenizerDir });
    const run = runCli(['eval-pipeline', '--data', trec, '--run', join(trec, 'runs', 'bm25.trec'), '--reranker', model, '--queries', '3', '--top-k', '20', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.queries).toBe(3);
    expect(report.reranked.latencyMs.p50).toBeGreaterThan(0);
    expect(report.perQuery).toHaveLength(3);
    const text = runCli(['eval-pipeline', '--data', trec, '--run', join(trec, 'runs', 'bm25.trec'), '--reranker', model, '--queries', '2', '--top-k', '10']);
    expect(text.stdout).toMatch(/\| reranked \| 0\.\d{4} \|/);
    expect(text.stdout).toMatch(/recall ceiling/);
  });

  it('reads a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)', async () => {
    const beir = join(dir.path, 'beir');
    mkdirSync(join(beir, 'qrels'), { recursive: true });
    const queries = readFileSync(join(trec, 'queries.tsv'), 'utf8').trim().split('\n').slice(0, 3).map((l) => l.split('\t'));
    writeFileSync(join(beir, 'queries.jsonl'), queries.map(([id, text]) => JSON.stringify({ _id: id, text })).join('\n'));
    const qids = new Set(queries.map(([id]) => id));
    const qrels = readFileSync(join(trec, 'qrels.txt'), 'utf8').trim().split('\n').map((l) => l.split(/\s+/)).filter((f) => qids.has(f[0]));
    writeFileSync(join(beir, 'qrels', 'test.tsv'), ['query-id\tcorpus-id\tscore', ...qrels.map((f) => `${f[0]}\t${f[2]}\t${f[3]}`)].join('\n'));
    const docs = readFileSync(join(trec, 'passages.jsonl'), 'utf8').trim().split('\n').slice(0, 500).map((l) => JSON.parse(l));
    writeFileSync(join(beir, 'corpus.jsonl'), docs.map((d) => JSON.stringify({ _id: d.id, title: '', text: d.text })).join('\n'));
    const dataset = await loadDataset(beir);
    expect(dataset.layout).toBe('beir');
    expect(dataset.queries.size).toBe(3);
    expect(dataset.corpus.size).toBe(500);
    expect([...dataset.qrels.keys()].sort()).toEqual([...qids].sort());
    await expect(loadDataset(join(dir.path, 'nothing-here'))).rejects.toThrow(/not a dataset folder/);
  });
});
