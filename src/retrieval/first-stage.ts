/** A first-stage run over a set of queries — from BM25 over a corpus, or from any retriever — with the per-query latency. */
import { performance } from 'node:perf_hooks';

import type { Run } from '../eval/trec-files.js';
import { Bm25Index, type Bm25Options } from './bm25.js';
import type { Retriever } from './retriever.js';

export interface FirstStage {
  run: Run;
  /** Milliseconds per query, in query order. */
  latenciesMs: number[];
  indexMs: number;
}

export function bm25FirstStage(
  corpus: Map<string, string>,
  queries: Map<string, string>,
  k: number,
  options: Bm25Options = {},
): FirstStage {
  const start = performance.now();
  const index = new Bm25Index(options);
  for (const [id, text] of corpus) index.addText(id, text);
  const indexMs = performance.now() - start;
  const run: Run = new Map();
  const latenciesMs: number[] = [];
  for (const [qid, query] of queries) {
    const t = performance.now();
    run.set(qid, index.retrieveSync(query, k).map((r) => ({ docid: r.id, score: r.score })));
    latenciesMs.push(performance.now() - t);
  }
  return { run, latenciesMs, indexMs };
}

/** Runs `retriever` for every query (`indexMs`: the time spent building it, if the caller did). */
export async function retrieverFirstStage(retriever: Retriever, queries: Map<string, string>, k: number, indexMs = 0): Promise<FirstStage> {
  const run: Run = new Map();
  const latenciesMs: number[] = [];
  for (const [qid, query] of queries) {
    const t = performance.now();
    run.set(qid, (await retriever.retrieve(query, k)).map((r) => ({ docid: r.id, score: r.score })));
    latenciesMs.push(performance.now() - t);
  }
  return { run, latenciesMs, indexMs };
}
