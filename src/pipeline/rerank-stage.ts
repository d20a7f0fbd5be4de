/**
 * Stage 2: score stage-1 candidates with the cross-encoder — whole, or as passages — within
 * an optional deadline.
 *
 * Without a deadline everything goes to the reranker in one call (its batch scheduler merges
 * it with concurrent searches). With one, the plan (plan.ts) picks how many candidates fit,
 * they are scored in small chunks in stage-1 order, and at the deadline the stage stops
 * waiting — for token counts as for scores: what was scored is kept and the rest is marked
 * unscored. The reranker's signal is aborted then, so chunks still queued are dropped (a batch
 * already running finishes and is discarded).
 */
import { performance } from 'node:perf_hooks';

import type { CostModel } from './cost-model.js';
import { aggregate, splitPassages, type ResolvedPassageOptions } from './passages.js';
import { planRerank } from './plan.js';
import { countTokens, scoreDetailed, type Reranker } from './reranker.js';

export interface RerankStageOptions {
  passages?: ResolvedPassageOptions;
  /** performance.now() time by which the stage must return. */
  deadline?: number;
  cost?: CostModel;
  /** Candidates per chunk when a deadline applies (default 16). */
  chunkSize?: number;
  /** The fewest candidates the plan keeps by cutting documents shorter (default 10). */
  minCandidates?: number;
}

export interface RerankOutcome {
  /** Per candidate: the reranker's score, or null where it was not scored in time. */
  scores: (number | null)[];
  /** Per candidate: text was cut (by the model, passage limit or the budget plan). */
  truncated: boolean[];
  /** Per candidate: passages scored. */
  passages: number[];
  /** True when candidates that were meant to be scored were not (deadline or plan). */
  partial: boolean;
}

interface Unit {
  candidate: number;
  text: string;
}

/** Cuts text to about `tokens` model tokens, at whitespace, using its tokens-per-word ratio. */
export function cutToTokens(text: string, textTokens: number, tokens: number): string {
  if (textTokens <= tokens) return text;
  const words = text.split(/\s+/).filter(Boolean);
  const keep = Math.max(1, Math.floor((tokens / textTokens) * words.length * 0.95));
  return words.slice(0, keep).join(' ');
}

const DEADLINE = Symbol('deadline');

/** Races promises against a deadline; a promise that loses is left to settle quietly. */
function deadlineRace(deadline: number | undefined) {
  let timer: NodeJS.Timeout | undefined;
  const expired =
    deadline === undefined
      ? new Promise<typeof DEADLINE>(() => {})
      : new Promise<typeof DEADLINE>((resolve) => {
          timer = setTimeout(() => resolve(DEADLINE), Math.max(0, deadline - performance.now()));
        });
  return {
    race<T>(promise: Promise<T>): Promise<T | typeof DEADLINE> {
      promise.catch(() => {}); // if it loses and later rejects (aborted), that is expected
      return Promise.race([promise, expired]);
    },
    cancel: () => clearTimeout(timer),
  };
}

export async function rerankStage(reranker: Reranker, query: string, texts: readonly string[], options: RerankStageOptions = {}): Promise<RerankOutcome> {
  const n = texts.length;
  const out: RerankOutcome = { scores: Array(n).fill(null), truncated: Array(n).fill(false), passages: Array(n).fill(0), partial: false };
  if (n === 0) return out;
  const timer = deadlineRace(options.deadline);
  const controller = new AbortController();
  try {
    return await rerankWithin(reranker, query, texts, options, out, timer.race, controller.signal);
  } finally {
    timer.cancel();
    // Anything still queued for this search is abandoned.
    controller.abort(new Error('the search reached its deadline'));
  }
}

async function rerankWithin(
  reranker: Reranker,
  query: string,
  texts: readonly string[],
  options: RerankStageOptions,
  out: RerankOutcome,
  race: <T>(promise: Promise<T>) => Promise<T | typeof DEADLINE>,
  signal: AbortSignal,
): Promise<RerankOutcome> {
  const n = texts.length;
  const { passages, deadline, cost } = options;
  const maxLength = reranker.info?.maxLength ?? Infinity;
  const needTokens = passages !== undefined || (deadline !== undefined && cost !== undefined);
  let queryTokens = 0;
  let docTokens: Int32Array = new Int32Array(n);
  if (needTokens) {
    const counted = await race(Promise.all([countTokens(reranker, [query]), countTokens(reranker, texts)]));
    if (counted === DEADLINE) return { ...out, partial: true };
    [[queryTokens], docTokens] = counted;
  }
  let work = [...texts];

  // The plan, when a deadline applies.
  let count = n;
  const chunkSize = options.chunkSize ?? 16;
  if (deadline !== undefined && cost) {
    const room = Math.max(1, maxLength - queryTokens - 3);
    const pairCounts = work.map((t, i) => (passages ? splitPassages(t, docTokens[i], room, passages).passages.length : 1));
    const pairTokens = work.map((_, i) => Math.min(maxLength, queryTokens + docTokens[i] + 3 * pairCounts[i]));
    // Under load a new chunk waits behind the backlog of other searches: plan in the time
    // left after it, at the backend's recent speed.
    const load = reranker.load?.();
    if (load && load.msPerToken > 0) cost.perTokenMs = load.msPerToken;
    const waitMs = load ? load.pendingTokens * cost.perTokenMs : 0;
    const plan = planRerank({
      cost, remainingMs: deadline - performance.now() - waitMs, pairTokens, pairCounts, queryTokens, chunkSize,
      minCandidates: options.minCandidates ?? 10,
    });
    count = plan.count;
    if (plan.docTokenCap !== undefined) {
      const cap = plan.docTokenCap;
      work = work.map((t, i) => (i < count && docTokens[i] > cap ? ((out.truncated[i] = true), cutToTokens(t, docTokens[i], cap)) : t));
      docTokens = docTokens.map((t) => Math.min(t, cap));
    }
    if (count < n) out.partial = true;
  }

  // Units to score: whole documents or passages, in stage-1 order.
  const units: Unit[] = [];
  for (let i = 0; i < count; i++) {
    if (!passages) {
      units.push({ candidate: i, text: work[i] });
      continue;
    }
    const split = splitPassages(work[i], docTokens[i], Math.max(1, maxLength - queryTokens - 3), passages);
    if (split.dropped) out.truncated[i] = true;
    for (const p of split.passages) units.push({ candidate: i, text: p });
  }

  const unitScores: number[] = [];
  const unitTruncated: boolean[] = [];
  // Without a deadline: one call (the reranker batches it); with one: chunks, so that what
  // is done by the deadline is usable.
  const step = deadline === undefined ? Math.max(1, units.length) : chunkSize;
  for (let start = 0; start < units.length; start += step) {
    const chunk = units.slice(start, start + step);
    const began = performance.now();
    const result = await race(scoreDetailed(reranker, query, chunk.map((u) => u.text), signal));
    const tokens = chunk.reduce((sum, u) => sum + Math.min(maxLength, queryTokens + docTokens[u.candidate] + 3), 0);
    if (result === DEADLINE) {
      out.partial = true;
      break;
    }
    // A reranker that reports its load keeps the cost model current itself (above); for
    // others the time of a finished chunk is the best evidence there is.
    if (!reranker.load) cost?.observe(tokens, performance.now() - began);
    unitScores.push(...result.scores);
    result.truncated.forEach((t) => unitTruncated.push(t === 1));
  }

  // Back to candidates: a candidate counts as scored only when all its passages were.
  const byCandidate = new Map<number, { scores: number[]; truncated: boolean }>();
  units.forEach((u, k) => {
    let entry = byCandidate.get(u.candidate);
    if (!entry) byCandidate.set(u.candidate, (entry = { scores: [], truncated: false }));
    if (k < unitScores.length) {
      entry.scores.push(unitScores[k]);
      entry.truncated ||= unitTruncated[k];
    }
  });
  const expected = new Map<number, number>();
  for (const u of units) expected.set(u.candidate, (expected.get(u.candidate) ?? 0) + 1);
  for (const [i, entry] of byCandidate) {
    if (entry.scores.length !== expected.get(i)) continue;
    out.scores[i] = passages ? aggregate(entry.scores, passages) : entry.scores[0];
    out.passages[i] = entry.scores.length;
    out.truncated[i] ||= entry.truncated;
  }
  return out;
}
