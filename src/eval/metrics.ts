/**
 * Retrieval metrics computed exactly as trec_eval computes them:
 *   - each query's documents are ordered by score descending, ties by document id descending
 *     (trec_eval ignores the rank column);
 *   - unjudged documents are not relevant; binary measures count grade >= relevanceLevel;
 *   - ndcg_cut.k uses the grade as gain (grades > 0), log2(rank + 1) discount, and the ideal
 *     ranking of all judged documents;
 *   - by default only queries present in both the run and the qrels are averaged; with
 *     `complete`, qrels queries missing from the run count as 0 (trec_eval -c).
 */
import { InvalidArgumentError } from '../errors.js';
import type { Qrels, Run, RunEntry } from './trec-files.js';

export type MetricName = string; // 'ndcg_cut.10', 'map', 'recall.100', 'P.10', 'recip_rank', 'mrr.10'

export interface EvalOptions {
  relevanceLevel?: number;
  complete?: boolean;
}

export interface EvalResult {
  /** Mean over the evaluated queries. */
  mean: Record<MetricName, number>;
  perQuery: Map<string, Record<MetricName, number>>;
  queries: number;
}

export const DEFAULT_METRICS = ['ndcg_cut.10', 'map', 'recall.100', 'P.10', 'recip_rank'];

/** trec_eval's order: score descending, then document id descending (byte order). */
export function trecOrder(entries: readonly RunEntry[]): RunEntry[] {
  return [...entries].sort((a, b) => b.score - a.score || (a.docid < b.docid ? 1 : a.docid > b.docid ? -1 : 0));
}

function parseMetric(name: string): { kind: string; k?: number } {
  const m = /^(ndcg_cut|recall|P|mrr)\.(\d+)$/.exec(name);
  if (m) {
    const k = Number(m[2]);
    if (k < 1) throw new InvalidArgumentError(`metric ${name}: the cutoff must be >= 1`);
    return { kind: m[1], k };
  }
  if (name === 'map' || name === 'recip_rank' || name === 'ndcg') return { kind: name };
  throw new InvalidArgumentError(`unknown metric ${name}; use ndcg_cut.K, ndcg, map, recall.K, P.K, recip_rank, mrr.K`);
}

function queryMetrics(ranked: RunEntry[], judged: Map<string, number>, metrics: string[], level: number): Record<string, number> {
  const grades = ranked.map((e) => judged.get(e.docid) ?? 0);
  const relevant = grades.map((g) => g >= level);
  const numRel = [...judged.values()].filter((g) => g >= level).length;
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a);
  const dcg = (gains: number[], k: number) => {
    let sum = 0;
    for (let i = 0; i < Math.min(k, gains.length); i++) if (gains[i] > 0) sum += gains[i] / Math.log2(i + 2);
    return sum;
  };
  const out: Record<string, number> = {};
  for (const name of metrics) {
    const { kind, k } = parseMetric(name);
    const cut = k ?? Infinity;
    switch (kind) {
      case 'ndcg_cut':
      case 'ndcg': {
        const idcg = dcg(ideal, cut);
        out[name] = idcg > 0 ? dcg(grades, cut) / idcg : 0;
        break;
      }
      case 'map': {
        let hits = 0;
        let sum = 0;
        relevant.forEach((rel, i) => {
          if (rel) sum += ++hits / (i + 1);
        });
        out[name] = numRel > 0 ? sum / numRel : 0;
        break;
      }
      case 'recall': {
        const hits = relevant.slice(0, cut).filter(Boolean).length;
        out[name] = numRel > 0 ? hits / numRel : 0;
        break;
      }
      case 'P':
        out[name] = relevant.slice(0, cut).filter(Boolean).length / cut;
        break;
      case 'recip_rank':
      case 'mrr': {
        const first = relevant.findIndex(Boolean);
        out[name] = first >= 0 && first < cut ? 1 / (first + 1) : 0;
        break;
      }
    }
  }
  return out;
}

export function evaluate(qrels: Qrels, run: Run, metrics: string[] = DEFAULT_METRICS, options: EvalOptions = {}): EvalResult {
  const level = options.relevanceLevel ?? 1;
  if (!Number.isInteger(level)) throw new InvalidArgumentError(`relevance level must be an integer, got ${level}`);
  metrics.forEach(parseMetric);
  const perQuery = new Map<string, Record<string, number>>();
  const qids = options.complete ? [...qrels.keys()] : [...run.keys()].filter((q) => qrels.has(q));
  for (const qid of qids.sort()) {
    perQuery.set(qid, queryMetrics(trecOrder(run.get(qid) ?? []), qrels.get(qid)!, metrics, level));
  }
  const mean: Record<string, number> = {};
  for (const name of metrics) {
    let sum = 0;
    for (const values of perQuery.values()) sum += values[name];
    mean[name] = perQuery.size ? sum / perQuery.size : 0;
  }
  return { mean, perQuery, queries: perQuery.size };
}
