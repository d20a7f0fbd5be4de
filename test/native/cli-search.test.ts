/** `crossrank index` and `crossrank search` end to end on Cranfield: BM25, HNSW, hybrid, reranking, runs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluate } from '../../src/eval/metrics.js';
import { parseRun, readQrels } from '../../src/eval/trec-files.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const cranfield = join(sharedDir, 'data', 'cranfield');
const dir = tempDir();
const index = join(dir.path, 'bm25-index');
const both = join(dir.path, 'hybrid-index');
const reranker = join(dir.path, 'tiny');
const embedder = join(dir.path, 'tiny-embed');
afterAll(() => dir.cleanup());

beforeAll(() => {
  makeModel({ preset: 'tiny', seed: 2, out: reranker, tokenizer: bertTokenizerDir });
  makeModel({ preset: 'tiny-embed', seed: 2, out: embedder, tokenizer: bertTokenizerDir });
});

describe('crossrank index / search', () => {
  it('indexes JSONL with BM25 and answers a query (text and JSON)', () => {
    const r = runCli(['index', '--input', join(cranfield, 'docs.jsonl'), '--out', index, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ documents: 1400, added: 1400, replaced: 0, parts: ['bm25'] });
    const text = runCli(['search', '--index', index, '--query', 'boundary layer in supersonic flow', '--top-k', '3']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.trim().split('\n')).toHaveLength(3);
    expect(text.stderr).toMatch(/100 candidates, 0 reranked/);
    const json = JSON.parse(runCli(['search', '--index', index, '--query', 'boundary layer', '--json']).stdout);
    expect(json.results).toHaveLength(10);
    expect(json.results[0]).toMatchObject({ stage1Rank: 1, reranked: false, document: { id: expect.any(String), text: expect.any(String) } });
  });

  it('writes a TREC run that scores what BM25 scores (nDCG@10 0.3276)', () => {
    const out = join(dir.path, 'bm25.trec');
    const r = runCli(['search', '--index', index, '--queries', join(cranfield, 'queries.tsv'), '--top-k', '100', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/225 queries -> .*p50 [\d.]+ ms/);
    const m = evaluate(readQrels(join(cranfield, 'qrels.txt')), parseRun(readFileSync(out, 'utf8')), ['ndcg_cut.10', 'recall.100']).mean;
    expect(m['ndcg_cut.10']).toBeCloseTo(0.3276, 4);
    expect(m['recall.100']).toBeCloseTo(0.6848, 4);
  });

  it('reranks with a cross-encoder, within a budget, with filters', () => {
    const r = runCli(['search', '--index', index, '--query', 'heat transfer', '--rerank', reranker, '--candidates', '20', '--top-k', '5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.counts).toMatchObject({ candidates: 20, reranked: 20 });
    expect(json.results.every((x: { reranked: boolean }) => x.reranked)).toBe(true);
    const profile = join(dir.path, 'cost.json');
    const budget = runCli(['search', '--index', index, '--query', 'heat transfer', '--rerank', reranker, '--budget-ms', '150', '--cost-profile', profile, '--json']);
    expect(budget.status, budget.stderr).toBe(0);
    expect(JSON.parse(budget.stdout).timings.totalMs).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(profile, 'utf8')).perTokenMs).toBeGreaterThan(0); // measured once, saved for the next run
    const again = runCli(['search', '--index', index, '--query', 'heat', '--rerank', reranker, '--budget-ms', '150', '--cost-profile', profile, '--json']);
    expect(again.status, again.stderr).toBe(0);
    const filtered = runCli(['search', '--index', index, '--query', 'heat transfer', '--filter', '{"id": {"$in": ["1", "2", "3"]}}', '--json']);
    expect(filtered.status, filtered.stderr).toBe(0);
    for (const x of JSON.parse(filtered.stdout).results) expect(['1', '2', '3']).toContain(x.id);
  });

  it('builds BM25 + HNSW and searches each part and the hybrid', () => {
    const r = runCli(['index', '--input', join(cranfield, 'docs.jsonl'), '--out', both, '--bm25', '--hnsw', '--embedder', embedder, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).parts).toEqual(['bm25', 'hnsw']);
    for (const retriever of ['bm25', 'hnsw', 'hybrid']) {
      const s = runCli(['search', '--index', both, '--retriever', retriever, '--query', 'flutter of wings', '--json']);
      expect(s.status, s.stderr).toBe(0);
      expect(JSON.parse(s.stdout).results).toHaveLength(10);
    }
    // The native engine embeds the query as ONNX Runtime does: the same neighbours.
    const ids = (backend: string) =>
      JSON.parse(runCli(['search', '--index', both, '--retriever', 'hnsw', '--embedder-backend', backend, '--query', 'flutter of wings', '--json']).stdout)
        .results.map((x: { id: string }) => x.id);
    expect(ids('native')).toEqual(ids('onnx'));
  });

  it('eval-pipeline and mine-negatives take an HNSW, hybrid or saved-index first stage', () => {
    const ev = runCli(['eval-pipeline', '--data', cranfield, '--retriever', 'hnsw', '--embedder', embedder, '--reranker', reranker, '--queries', '5', '--top-k', '20', '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).queries).toBe(5);
    const out = join(dir.path, 'negatives.jsonl');
    const mine = runCli(['mine-negatives', '--queries', join(cranfield, 'queries.tsv'), '--qrels', join(cranfield, 'qrels.txt'),
      '--corpus', join(cranfield, 'docs.jsonl'), '--index', both, '--retriever', 'hybrid', '--out', out, '--top-k', '20']);
    expect(mine.status, mine.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n').length).toBeGreaterThan(100);
    expect(runCli(['eval-pipeline', '--data', cranfield, '--retriever', 'hnsw', '--reranker', reranker]).stderr).toMatch(/needs --embedder/);
  });

  it('appends and replaces by id; refuses to overwrite without --append or --force', () => {
    const extra = join(dir.path, 'extra.jsonl');
    writeFileSync(extra, '{"id": "1", "text": "a zeppelin replaced document one", "lang": "en"}\n{"id": "new", "text": "zeppelin airship"}\n');
    expect(runCli(['index', '--input', extra, '--out', index]).status).toBe(2);
    const r = runCli(['index', '--input', extra, '--out', index, '--append', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ documents: 1401, added: 1, replaced: 1 });
    expect(r.stderr).toMatch(/1 document id\(s\) were already indexed/);
    const s = JSON.parse(runCli(['search', '--index', index, '--query', 'zeppelin', '--json']).stdout);
    expect(s.results.map((x: { id: string }) => x.id).sort()).toEqual(['1', 'new']);
    expect(s.results.find((x: { id: string }) => x.id === '1').document.metadata).toEqual({ lang: 'en' });
  });

  it('bad input: typed errors and exit codes', () => {
    const missing = runCli(['search', '--index', join(dir.path, 'nope'), '--query', 'x']);
    expect(missing.status).toBe(8);
    expect(missing.stderr).toMatch(/not a crossrank index .*\[CROSSRANK_INDEX_LOAD\]/);
    expect(runCli(['search', '--index', index, '--query', 'x', '--filter', '{oops']).stderr).toMatch(/--filter must be a JSON object/);
    expect(runCli(['search', '--index', index]).stderr).toMatch(/exactly one of --query or --queries/);
    const badLine = join(dir.path, 'bad.jsonl');
    writeFileSync(badLine, '{"id": "a", "text": "ok"}\n{"id": "b"}\n');
    const bad = runCli(['index', '--input', badLine, '--out', join(dir.path, 'bad-index')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad.jsonl:2: needs a string "text"/);
    expect(runCli(['index', '--input', badLine, '--out', join(dir.path, 'x'), '--hnsw']).stderr).toMatch(/--hnsw needs --embedder/);
  });
});
