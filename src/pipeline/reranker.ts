/**
 * What the pipeline needs from a reranker. A CrossEncoder is one; so is anything with a
 * `score(query, docs)` (a hosted API, a test double).
 */
import type { DetailedScores } from '../cross-encoder.js';

export interface Reranker {
  score(query: string, docs: readonly string[]): Promise<Float32Array>;
  /**
   * Scores plus which pairs were cut to the model's length (reported by the pipeline). The
   * pipeline aborts `signal` at its deadline: work not yet started should be dropped.
   */
  scoreDetailed?(query: string, docs: readonly string[], options?: { signal?: AbortSignal }): Promise<DetailedScores>;
  /** Model tokens per text, for passage splitting and the latency planner. */
  countTokens?(texts: readonly string[]): Promise<Int32Array>;
  /** Work queued ahead of a new call, and the recent time per token (see CrossEncoder.load). */
  load?(): { pendingTokens: number; msPerToken: number };
  readonly info?: { model?: string; maxLength?: number };
}

export async function scoreDetailed(reranker: Reranker, query: string, docs: readonly string[], signal?: AbortSignal): Promise<DetailedScores> {
  if (reranker.scoreDetailed) return reranker.scoreDetailed(query, docs, { signal });
  return { scores: await reranker.score(query, docs), truncated: new Uint8Array(docs.length) };
}

/** Token counts from the reranker, or an estimate (4 characters a token) when it has no tokenizer. */
export async function countTokens(reranker: Reranker, texts: readonly string[]): Promise<Int32Array> {
  if (reranker.countTokens) return reranker.countTokens(texts);
  return Int32Array.from(texts, (t) => Math.ceil(t.length / 4));
}
