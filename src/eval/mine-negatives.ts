/**
 * Hard-negative mining for training rerankers: for each query, take the first stage's
 * top-K, drop every judged positive (grade >= relevance level), optionally skip the first
 * few candidates (likely unjudged positives), and, when a reranker scores the candidates,
 * drop negatives that score within `margin` of the query's weakest positive (likely false
 * negatives). Output in the shapes sentence-transformers reads: {query, positive, negative}
 * triples or {query, positive, negatives: [...]}.
 */
import { InvalidArgumentError } from '../errors.js';
import { trecOrder } from './metrics.js';
import type { Qrels, Run } from './trec-files.js';

export interface MineOptions {
  topK?: number;
  /** Candidates skipped at the top of each ranking (default 0). */
  skipTop?: number;
  /** Negatives kept per positive (default 5). */
  negativesPerPositive?: number;
  relevanceLevel?: number;
  /** Reranker scores of (query, document): enables the false-negative margin. */
  rerank?: (query: string, docs: string[]) => Promise<Float32Array>;
  /** Keep a negative only if its reranker score < (lowest positive score) - margin. */
  margin?: number;
  /** Order examples from easy (low first-stage rank) to hard. */
  curriculum?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface MinedExample {
  qid: string;
  query: string;
  positive: string;
  negatives: string[];
  /** Difficulty: the best (lowest) first-stage rank among the negatives, for curricula. */
  hardestRank: number;
}

export async function mineNegatives(
  queries: Map<string, string>,
  qrels: Qrels,
  run: Run,
  corpus: Map<string, string>,
  options: MineOptions = {},
): Promise<MinedExample[]> {
  const topK = options.topK ?? 50;
  const skip = options.skipTop ?? 0;
  const perPositive = options.negativesPerPositive ?? 5;
  const level = options.relevanceLevel ?? 1;
  const margin = options.margin ?? 0;
  for (const [name, v] of [['topK', topK], ['skipTop', skip], ['negativesPerPositive', perPositive]] as const) {
    if (!Number.isInteger(v) || v < 0 || (name !== 'skipTop' && v < 1)) throw new InvalidArgumentError(`${name} must be a positive integer, got ${v}`);
  }
  const qids = [...qrels.keys()].filter((q) => queries.has(q) && run.has(q));
  const examples: MinedExample[] = [];
  let done = 0;
  for (const qid of qids) {
    const judged = qrels.get(qid)!;
    const query = queries.get(qid)!;
    const positives = [...judged].filter(([id, g]) => g >= level && corpus.has(id)).map(([id]) => id);
    if (positives.length === 0) {
      options.onProgress?.(++done, qids.length);
      continue;
    }
    // Candidates: top-K after skipping, never a judged positive (whatever its grade in the run).
    let candidates = trecOrder(run.get(qid)!)
      .slice(skip, skip + topK)
      .map((e, i) => ({ id: e.docid, rank: skip + i + 1 }))
      .filter((c) => (judged.get(c.id) ?? 0) < level && corpus.has(c.id));
    if (options.rerank && candidates.length > 0) {
      const scores = await options.rerank(query, [...positives, ...candidates.map((c) => c.id)].map((id) => corpus.get(id)!));
      const weakestPositive = Math.min(...Array.from(scores.subarray(0, positives.length)));
      candidates = candidates.filter((_, i) => scores[positives.length + i] < weakestPositive - margin);
    }
    for (const positive of positives) {
      const chosen = candidates.slice(0, perPositive);
      if (chosen.length === 0) continue;
      examples.push({
        qid,
        query,
        positive: corpus.get(positive)!,
        negatives: chosen.map((c) => corpus.get(c.id)!),
        hardestRank: Math.min(...chosen.map((c) => c.rank)),
      });
    }
    options.onProgress?.(++done, qids.length);
  }
  // Easy first: negatives from deep in the ranking are easy; near the top, hard.
  if (options.curriculum) examples.sort((a, b) => b.hardestRank - a.hardestRank);
  return examples;
}

/** JSONL lines: triples ({query, positive, negative} per negative) or lists ({query, positive, negatives}). */
export function formatExamples(examples: MinedExample[], format: 'triplets' | 'list'): string {
  const lines: string[] = [];
  for (const e of examples) {
    if (format === 'list') lines.push(JSON.stringify({ query: e.query, positive: e.positive, negatives: e.negatives }));
    else for (const negative of e.negatives) lines.push(JSON.stringify({ query: e.query, positive: e.positive, negative }));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
