/**
 * Two-stage evaluation: a first-stage run, its top-K reranked (by a model, or given as a
 * second run), both scored with trec_eval-exact metrics, plus the diagnostics that answer
 * "is the reranker helping?": per-query wins/losses/ties on nDCG@10 with a paired bootstrap
 * interval, the recall ceiling stage 1 leaves, how much the order changes (Kendall's tau),
 * and the reranker's score distributions for relevant and non-relevant documents.
 */
import { performance } from 'node:perf_hooks';

import { InvalidArgumentError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { histogram, kendallTau, pairedComparison, type Histogram, type PairedComparison } from './diagnostics.js';
import { evaluate, trecOrder } from './metrics.js';
import type { Run } from './trec-files.js';

export interface PipelineEvalOptions {
  topK?: number;
  relevanceLevel?: number;
  /** Scores (query, documents) -> one score each: the reranker under test. */
  rerank?: (query: string, docs: string[]) => Promise<Float32Array>;
  /** Or the reranker's output as a run (documents outside stage 1's top-K are ignored). */
  rerankedRun?: Run;
  /** Evaluate at most this many queries (in qid order). */
  maxQueries?: number;
  /** Stage-1 latency per query, when stage 1 ran here (not a run file). */
  stage1LatenciesMs?: number[];
  onProgress?: (done: number, total: number) => void;
}

export interface StageReport {
  metrics: Record<string, number>;
  latencyMs: { p50: number; p95: number } | null;
}

export interface PipelineReport {
  queries: number;
  topK: number;
  relevanceLevel: number;
  stage1: StageReport;
  reranked: StageReport;
  ndcg10: PairedComparison;
  perQuery: { qid: string; stage1: number; reranked: number }[];
  recallCeiling: { relevant: number; retrieved: number; missed: number; share: number };
  kendallTau: number;
  scoreDistributions: { relevant: Histogram; nonRelevant: Histogram } | null;
  documentsWithoutText: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

function latencySummary(values: number[]): { p50: number; p95: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) };
}

export async function evaluatePipeline(dataset: Dataset, stage1: Run, options: PipelineEvalOptions): Promise<PipelineReport> {
  const topK = options.topK ?? 100;
  const level = options.relevanceLevel ?? 1;
  if (!options.rerank === !options.rerankedRun) throw new InvalidArgumentError('give exactly one reranker: a model or a run');
  let qids = [...stage1.keys()].filter((q) => dataset.qrels.has(q) && dataset.queries.has(q)).sort();
  if (options.maxQueries !== undefined) qids = qids.slice(0, options.maxQueries);
  if (qids.length === 0) throw new InvalidArgumentError('no query is in the run, the qrels and the queries at once');

  const first: Run = new Map();
  const second: Run = new Map();
  const latencies: number[] = [];
  const relevantScores: number[] = [];
  const nonRelevantScores: number[] = [];
  let withoutText = 0;
  let taus = 0;
  for (const [i, qid] of qids.entries()) {
    const top = trecOrder(stage1.get(qid)!).slice(0, topK);
    first.set(qid, top);
    let reranked: { docid: string; score: number }[];
    if (options.rerank) {
      const withText = top.filter((e) => dataset.corpus.has(e.docid));
      withoutText += top.length - withText.length;
      const start = performance.now();
      const scores = await options.rerank(dataset.queries.get(qid)!, withText.map((e) => dataset.corpus.get(e.docid)!));
      latencies.push(performance.now() - start);
      reranked = withText.map((e, j) => ({ docid: e.docid, score: scores[j] }));
    } else {
      const inTop = new Set(top.map((e) => e.docid));
      reranked = (options.rerankedRun!.get(qid) ?? []).filter((e) => inTop.has(e.docid));
    }
    const judged = dataset.qrels.get(qid)!;
    for (const r of reranked) {
      const grade = judged.get(r.docid);
      if (grade === undefined) continue;
      (grade >= level ? relevantScores : nonRelevantScores).push(r.score);
    }
    // Candidates the reranker did not score (no text, or absent from the reranked run) keep
    // their stage-1 order after the reranked ones, so both stages rank the same documents.
    const scored = new Set(reranked.map((r) => r.docid));
    const floor = Math.min(0, ...reranked.map((r) => r.score)) - 1;
    top.filter((e) => !scored.has(e.docid)).forEach((e, j) => reranked.push({ docid: e.docid, score: floor - j }));
    second.set(qid, reranked);
    // Order change over the documents both stages ranked.
    const firstRank = new Map(top.map((e, j) => [e.docid, j]));
    const secondOrder = trecOrder(reranked);
    const common = secondOrder.filter((e) => firstRank.has(e.docid));
    taus += kendallTau(common.map((e) => firstRank.get(e.docid)!), common.map((_, j) => j));
    options.onProgress?.(i + 1, qids.length);
  }

  const metrics = ['ndcg_cut.10', 'mrr.10', `recall.${topK}`];
  const a = evaluate(dataset.qrels, first, metrics, { relevanceLevel: level });
  const b = evaluate(dataset.qrels, second, metrics, { relevanceLevel: level });
  const perQuery = qids.map((qid) => ({
    qid,
    stage1: a.perQuery.get(qid)!['ndcg_cut.10'],
    reranked: b.perQuery.get(qid)!['ndcg_cut.10'],
  }));
  let relevant = 0;
  let retrieved = 0;
  for (const qid of qids) {
    const judged = dataset.qrels.get(qid)!;
    const top = new Set(first.get(qid)!.map((e) => e.docid));
    for (const [docid, grade] of judged) {
      if (grade < level) continue;
      relevant++;
      if (top.has(docid)) retrieved++;
    }
  }
  const range: [number, number] | undefined = relevantScores.length + nonRelevantScores.length
    ? [Math.min(...relevantScores, ...nonRelevantScores), Math.max(...relevantScores, ...nonRelevantScores)]
    : undefined;
  return {
    queries: qids.length,
    topK,
    relevanceLevel: level,
    stage1: { metrics: a.mean, latencyMs: latencySummary(options.stage1LatenciesMs ?? []) },
    reranked: { metrics: b.mean, latencyMs: latencySummary(latencies) },
    ndcg10: pairedComparison(perQuery.map((q) => q.stage1), perQuery.map((q) => q.reranked)),
    perQuery,
    recallCeiling: { relevant, retrieved, missed: relevant - retrieved, share: relevant ? retrieved / relevant : 0 },
    kendallTau: taus / qids.length,
    scoreDistributions: range ? { relevant: histogram(relevantScores, 20, range), nonRelevant: histogram(nonRelevantScores, 20, range) } : null,
    documentsWithoutText: withoutText,
  };
}
