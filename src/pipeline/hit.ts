/** One document as it moves through the pipeline's stages. */
import type { StoredDocument } from '../retrieval/document-store.js';

export interface PipelineHit {
  id: string;
  /** The latest stage's score: a reranker's, or stage 1's when no reranker scored it. */
  score: number;
  /** True when a reranker scored this document (false: its score is stage 1's). */
  reranked: boolean;
  /** 1-based rank in stage 1. */
  stage1Rank: number;
  stage1Score: number;
  document?: StoredDocument;
  /** Text was cut before scoring (model length, passage limit, or the latency plan). */
  truncated?: boolean;
  /** Passages scored when passage splitting is on. */
  passages?: number;
}

/** Reranked hits by score (ties: stage-1 rank), then the rest in stage-1 order. */
export function orderHits(hits: PipelineHit[]): PipelineHit[] {
  return hits.sort((a, b) => {
    if (a.reranked !== b.reranked) return a.reranked ? -1 : 1;
    if (a.reranked && b.score !== a.score) return b.score - a.score;
    return a.stage1Rank - b.stage1Rank;
  });
}
