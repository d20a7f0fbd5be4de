/**
 * Stage 3: what happens to the reranked list before it is cut to topN.
 *
 * - rules: drop documents that fail a metadata filter; boost (multiply and/or add to the
 *   score of) documents that match a condition, then re-sort.
 * - mmr: maximal marginal relevance (Carbonell & Goldstein, 1998) over the first `candidates`
 *   hits: repeatedly pick argmax λ·rel(d) − (1−λ)·max_{s picked} cos(d, s), where rel is the
 *   score min–max normalised over those hits. λ = 1 is the reranked order; lower values push
 *   near-duplicates of what is already picked down.
 * - cascade: a second, usually larger, reranker rescores the top N, which are re-sorted by
 *   its scores; the rest keep their order after them.
 */
import { InvalidArgumentError } from '../errors.js';
import { dot, type Embedder } from '../embedding/embedder.js';
import { checkFilter, matchesFilter, type DocumentFilter } from '../retrieval/document-store.js';
import { indexText } from '../retrieval/retriever.js';
import { orderHits, type PipelineHit } from './hit.js';
import { rerankStage } from './rerank-stage.js';
import { resolvePassageOptions, type PassageOptions } from './passages.js';
import type { Reranker } from './reranker.js';

export interface Boost {
  when: DocumentFilter;
  multiply?: number;
  add?: number;
}

export interface RulesStage {
  type: 'rules';
  /** Keep only documents that match. */
  filter?: DocumentFilter;
  boosts?: Boost[];
}

export interface MmrStage {
  type: 'mmr';
  embedder: Embedder;
  /** Relevance against diversity, in [0, 1] (default 0.7). */
  lambda?: number;
  /** How many of the best hits MMR reorders (default 50). */
  candidates?: number;
}

export interface CascadeStage {
  type: 'cascade';
  reranker: Reranker;
  /** Rescore this many of the best hits (default 10). */
  topN?: number;
  passages?: PassageOptions | boolean;
}

export type Stage = RulesStage | MmrStage | CascadeStage;

export interface StageContext {
  query: string;
  /** performance.now() time by which the stage must return. */
  deadline?: number;
}

export interface StageOutcome {
  hits: PipelineHit[];
  /** True when the stage could not finish in time and left the order as it was. */
  partial: boolean;
}

export function checkStage(stage: Stage, i: number): void {
  const where = `stages[${i}]`;
  if (stage === null || typeof stage !== 'object') throw new InvalidArgumentError(`${where} must be an object`);
  switch (stage.type) {
    case 'rules':
      checkFilter(stage.filter);
      for (const [j, b] of (stage.boosts ?? []).entries()) {
        checkFilter(b.when);
        if (b.multiply !== undefined && !Number.isFinite(b.multiply)) throw new InvalidArgumentError(`${where}.boosts[${j}].multiply must be a finite number`);
        if (b.add !== undefined && !Number.isFinite(b.add)) throw new InvalidArgumentError(`${where}.boosts[${j}].add must be a finite number`);
      }
      return;
    case 'mmr': {
      const lambda = stage.lambda ?? 0.7;
      if (!(lambda >= 0 && lambda <= 1)) throw new InvalidArgumentError(`${where}.lambda must be in [0, 1], got ${lambda}`);
      if (!stage.embedder || typeof stage.embedder.embed !== 'function') throw new InvalidArgumentError(`${where} needs an embedder`);
      return;
    }
    case 'cascade':
      if (!stage.reranker || typeof stage.reranker.score !== 'function') throw new InvalidArgumentError(`${where} needs a reranker`);
      resolvePassageOptions(stage.passages);
      return;
    default:
      throw new InvalidArgumentError(`${where}.type must be 'rules', 'mmr' or 'cascade', got ${JSON.stringify((stage as { type: unknown }).type)}`);
  }
}

function applyRules(stage: RulesStage, hits: PipelineHit[]): PipelineHit[] {
  let out = stage.filter ? hits.filter((h) => h.document !== undefined && matchesFilter(h.document, stage.filter!)) : hits;
  if (stage.boosts?.length) {
    out = out.map((h) => {
      let score = h.score;
      for (const b of stage.boosts!) {
        if (h.document === undefined || !matchesFilter(h.document, b.when)) continue;
        score = score * (b.multiply ?? 1) + (b.add ?? 0);
      }
      return { ...h, score };
    });
    // Boosts change scores, so the order follows them (stage-1 order for unscored hits).
    out = orderHits(out);
  }
  return out;
}

async function applyMmr(stage: MmrStage, hits: PipelineHit[]): Promise<PipelineHit[]> {
  const lambda = stage.lambda ?? 0.7;
  const pool = hits.slice(0, stage.candidates ?? 50).filter((h) => h.document !== undefined);
  if (pool.length < 2) return hits;
  const vectors = await stage.embedder.embed(pool.map((h) => indexText(h.document!)));
  const scores = pool.map((h) => h.score);
  const [min, max] = [Math.min(...scores), Math.max(...scores)];
  const rel = scores.map((s) => (max > min ? (s - min) / (max - min) : 1));
  const picked: number[] = [];
  const maxSim = new Float64Array(pool.length).fill(-Infinity);
  const left = new Set(pool.keys());
  while (left.size > 0) {
    let best = -1;
    let bestValue = -Infinity;
    for (const i of left) {
      const value = lambda * rel[i] - (1 - lambda) * (picked.length ? maxSim[i] : 0);
      if (value > bestValue) [best, bestValue] = [i, value];
    }
    picked.push(best);
    left.delete(best);
    for (const i of left) maxSim[i] = Math.max(maxSim[i], dot(vectors[i], vectors[best]));
  }
  const inPool = new Set(pool.map((h) => h.id));
  return [...picked.map((i) => pool[i]), ...hits.filter((h) => !inPool.has(h.id))];
}

async function applyCascade(stage: CascadeStage, hits: PipelineHit[], context: StageContext): Promise<StageOutcome> {
  const top = hits.slice(0, stage.topN ?? 10).filter((h) => h.document !== undefined);
  if (top.length === 0) return { hits, partial: false };
  const outcome = await rerankStage(stage.reranker, context.query, top.map((h) => indexText(h.document!)), {
    passages: resolvePassageOptions(stage.passages),
    deadline: context.deadline,
  });
  // All or nothing: a half-rescored top N would mix two models' scores.
  if (outcome.scores.some((s) => s === null)) return { hits, partial: true };
  const rescored = top.map((h, i) => ({ ...h, score: outcome.scores[i]!, reranked: true, truncated: h.truncated || outcome.truncated[i] }));
  rescored.sort((a, b) => b.score - a.score || a.stage1Rank - b.stage1Rank);
  const done = new Set(top.map((h) => h.id));
  return { hits: [...rescored, ...hits.filter((h) => !done.has(h.id))], partial: false };
}

export async function runStage(stage: Stage, hits: PipelineHit[], context: StageContext): Promise<StageOutcome> {
  switch (stage.type) {
    case 'rules':
      return { hits: applyRules(stage, hits), partial: false };
    case 'mmr':
      return { hits: await applyMmr(stage, hits), partial: false };
    case 'cascade':
      return applyCascade(stage, hits, context);
  }
}
