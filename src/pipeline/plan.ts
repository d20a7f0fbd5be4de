/**
 * The latency-budget plan for one search: how many stage-1 candidates to rerank, and at what
 * document length, so that the predicted reranking time fits the time left.
 *
 * Candidates are taken in stage-1 order (the best first-stage candidates matter most). When
 * fewer than `minCandidates` fit at full length, documents are cut shorter — down to
 * `minDocTokens` — so that the minimum fits; below that the plan takes what fits.
 */
import type { CostModel } from './cost-model.js';

export interface PlanInput {
  cost: CostModel;
  remainingMs: number;
  /** Tokens of each candidate's pairs (all its passages), in stage-1 order. */
  pairTokens: readonly number[];
  /** Pairs per candidate (passages), in stage-1 order. */
  pairCounts: readonly number[];
  queryTokens: number;
  chunkSize: number;
  minCandidates: number;
  minDocTokens?: number;
  /** Share of the remaining time the plan may fill (the rest absorbs prediction error). */
  fill?: number;
}

export interface Plan {
  /** Candidates to rerank (a prefix of stage 1). */
  count: number;
  /** When set: cut each document to this many tokens. */
  docTokenCap?: number;
}

export function planRerank(input: PlanInput): Plan {
  const { cost, pairTokens, pairCounts, chunkSize } = input;
  const budget = input.remainingMs * (input.fill ?? 0.8);
  const predict = (tokens: number, pairs: number) => cost.predict(tokens, Math.ceil(pairs / chunkSize));
  let tokens = 0;
  let pairs = 0;
  let count = 0;
  for (; count < pairTokens.length; count++) {
    if (predict(tokens + pairTokens[count], pairs + pairCounts[count]) > budget) break;
    tokens += pairTokens[count];
    pairs += pairCounts[count];
  }
  const want = Math.min(input.minCandidates, pairTokens.length);
  if (count >= want) return { count };
  // Shorter documents: the longest per-document cap at which `want` candidates (one pair each) fit.
  const perDoc = (budget - cost.predict(0, Math.ceil(want / chunkSize))) / cost.perTokenMs / want - input.queryTokens - 3;
  const cap = Math.floor(perDoc);
  if (cap >= (input.minDocTokens ?? 32)) return { count: want, docTokenCap: cap };
  return { count };
}
