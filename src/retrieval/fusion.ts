/**
 * Fusing several ranked lists into one.
 *
 * - Reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
 *   score(d) = Σ_runs 1 / (k + rank_run(d)), rank from 1; a document a run did not
 *   retrieve adds nothing.
 * - Weighted fusion: each run's scores min–max normalised to [0, 1] per query, then
 *   score(d) = Σ_runs weight_run · norm_run(d) (absent: 0). A run whose scores are all equal
 *   normalises to 1.
 *
 * Ranks inside each input are taken in trec_eval's order (score descending, then document
 * id descending), so a run file's rank column is never trusted over its scores. Fused ties
 * (frequent with RRF: rank 5 in one run only scores the same as rank 5 in another only) are
 * broken by document id ascending, the convention of the usual fusion tools; it decides which
 * tied documents make a top-k cut.
 */
import { InvalidArgumentError } from '../errors.js';
import { trecOrder } from '../eval/metrics.js';
import type { Run, RunEntry } from '../eval/trec-files.js';
import type { ScoredId } from './retriever.js';

export type FusionMethod = 'rrf' | 'weighted';

export interface FusionOptions {
  method?: FusionMethod;
  /** RRF's constant (default 60). */
  k?: number;
  /** Weighted fusion: one weight per input (default: all 1). */
  weights?: readonly number[];
  /** Keep the best N per query (default: all). */
  topK?: number;
}

function checkOptions(inputs: number, options: FusionOptions): Required<Omit<FusionOptions, 'topK'>> & { topK?: number } {
  const method = options.method ?? 'rrf';
  if (method !== 'rrf' && method !== 'weighted') throw new InvalidArgumentError(`fusion method must be 'rrf' or 'weighted', got ${JSON.stringify(method)}`);
  const k = options.k ?? 60;
  if (!Number.isFinite(k) || k < 0) throw new InvalidArgumentError(`RRF k must be a number >= 0, got ${k}`);
  const weights = options.weights ?? Array<number>(inputs).fill(1);
  if (weights.length !== inputs) throw new InvalidArgumentError(`${weights.length} weights given for ${inputs} inputs`);
  if (weights.some((w) => !Number.isFinite(w))) throw new InvalidArgumentError('weights must be finite numbers');
  if (options.topK !== undefined && (!Number.isInteger(options.topK) || options.topK < 1)) {
    throw new InvalidArgumentError(`topK must be a positive integer, got ${options.topK}`);
  }
  return { method, k, weights, topK: options.topK };
}

/** Fuses the ranked lists of one query. Inputs: any order; output: best first. */
export function fuseLists(lists: readonly (readonly ScoredId[])[], options: FusionOptions = {}): ScoredId[] {
  if (lists.length === 0) throw new InvalidArgumentError('fusion needs at least one input');
  const { method, k, weights, topK } = checkOptions(lists.length, options);
  const fused = new Map<string, number>();
  lists.forEach((list, r) => {
    const ordered = trecOrder(list.map((e) => ({ docid: e.id, score: e.score })));
    if (method === 'rrf') {
      ordered.forEach((e, i) => fused.set(e.docid, (fused.get(e.docid) ?? 0) + weights[r] / (k + i + 1)));
      return;
    }
    if (ordered.length === 0) return;
    const max = ordered[0].score;
    const min = ordered[ordered.length - 1].score;
    for (const e of ordered) {
      const norm = max > min ? (e.score - min) / (max - min) : 1;
      fused.set(e.docid, (fused.get(e.docid) ?? 0) + weights[r] * norm);
    }
  });
  const out = [...fused].map(([id, score]) => ({ id, score }));
  out.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return topK === undefined ? out : out.slice(0, topK);
}

/** Fuses whole runs, query by query (the union of their queries, in first-seen order). */
export function fuseRuns(runs: readonly Run[], options: FusionOptions = {}): Run {
  if (runs.length === 0) throw new InvalidArgumentError('fusion needs at least one run');
  const qids = new Set<string>();
  for (const run of runs) for (const qid of run.keys()) qids.add(qid);
  const out: Run = new Map();
  for (const qid of qids) {
    const lists = runs.map((run) => (run.get(qid) ?? []).map((e: RunEntry) => ({ id: e.docid, score: e.score })));
    out.set(qid, fuseLists(lists, options).map((e) => ({ docid: e.id, score: e.score })));
  }
  return out;
}
