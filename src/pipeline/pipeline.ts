/**
 * The retrieval pipeline: stage 1 (any Retriever) finds `candidates` documents, stage 2 (a
 * cross-encoder) reranks them, stage 3 (rules, MMR, a cascade) refines the order, and the
 * best `topN` come back.
 *
 *   const pipeline = new Pipeline({ retriever: bm25, reranker, documents, candidates: 100, topN: 10, budgetMs: 200 });
 *   const { results, partial } = await pipeline.search('what is a cross-encoder', { filter: { lang: 'en' } });
 *
 * With `budgetMs`, a search never returns late: the reranker's cost is measured when the
 * pipeline is made (or read from `cost`), each search plans how many candidates to rerank
 * in the time left, and at the deadline it returns what is reranked followed by stage-1 order
 * for the rest, with `partial: true`.
 */
import { performance } from 'node:perf_hooks';

import { InvalidArgumentError } from '../errors.js';
import { checkQuery } from '../documents.js';
import { checkFilter, type DocumentFilter, type StoredDocument } from '../retrieval/document-store.js';
import { indexText, type Retriever } from '../retrieval/retriever.js';
import { CostModel, type CostProfile } from './cost-model.js';
import { orderHits, type PipelineHit } from './hit.js';
import { resolvePassageOptions, type PassageOptions, type ResolvedPassageOptions } from './passages.js';
import { rerankStage } from './rerank-stage.js';
import type { Reranker } from './reranker.js';
import { checkStage, runStage, type Stage } from './stages.js';

/** Where the pipeline reads documents the retriever names (a DocumentStore is one). */
export interface DocumentSource {
  get(id: string): StoredDocument | undefined;
  /** An id predicate for a metadata filter (retrievers filter while they search). */
  accept(filter: DocumentFilter | undefined): ((id: string) => boolean) | undefined;
  values?(): IterableIterator<StoredDocument>;
}

export interface PipelineOptions {
  retriever: Retriever;
  reranker?: Reranker;
  /** Documents by id (needed to rerank unless the retriever returns documents itself). */
  documents?: DocumentSource;
  /** Stage-1 candidates (default 100). */
  candidates?: number;
  /** Results returned (default 10). */
  topN?: number;
  /** Whole-search latency budget in milliseconds (default: none). */
  budgetMs?: number;
  /** The reranker's cost (profile object, or a CostModel); measured at start-up when absent. */
  cost?: CostProfile | CostModel;
  /** Split long documents into passages and aggregate their scores (default: off, the model truncates). */
  passages?: PassageOptions | boolean;
  /** With a budget: the fewest candidates to rerank, cutting documents shorter if needed (default 10). */
  minCandidates?: number;
  stages?: Stage[];
}

export interface SearchOptions {
  filter?: DocumentFilter;
  topN?: number;
  candidates?: number;
  budgetMs?: number;
}

/** One result: the hit as the last stage left it (see hit.ts for the fields). */
export type SearchResult = PipelineHit;

export interface SearchResponse {
  results: SearchResult[];
  /** True when the budget cut reranking (or a later stage) short. */
  partial: boolean;
  timings: { stage1Ms: number; rerankMs: number; stage3Ms: number; totalMs: number };
  /** Candidates from stage 1, how many were reranked, and how many had text cut. */
  counts: { candidates: number; reranked: number; truncated: number };
}

function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function budget(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}

// Kept back from the budget for what follows reranking (stage 3, assembling the response)
// and for timer lateness.
const RESERVE_MS = 3;
const RESERVE_SHARE = 0.1;

export class Pipeline {
  readonly #options: PipelineOptions;
  readonly #passages: ResolvedPassageOptions | undefined;
  readonly #candidates: number;
  readonly #topN: number;
  readonly #budgetMs: number | undefined;
  #cost: CostModel | undefined;
  /** Resolves once the pipeline can search within its budget (the reranker's cost is known). */
  readonly ready: Promise<void>;

  constructor(options: PipelineOptions) {
    if (!options || typeof options.retriever?.retrieve !== 'function') throw new InvalidArgumentError('a Pipeline needs a retriever');
    if (options.reranker && typeof options.reranker.score !== 'function') throw new InvalidArgumentError('reranker must have score(query, docs)');
    this.#options = options;
    this.#candidates = positiveInteger(options.candidates, 'candidates', 100);
    this.#topN = positiveInteger(options.topN, 'topN', 10);
    this.#budgetMs = budget(options.budgetMs, 'budgetMs');
    this.#passages = resolvePassageOptions(options.passages);
    positiveInteger(options.minCandidates, 'minCandidates', 10);
    (options.stages ?? []).forEach(checkStage);
    const cost = options.cost;
    this.#cost = cost instanceof CostModel ? cost : cost ? new CostModel(cost) : undefined;
    this.ready = this.#cost || !this.#budgetMs || !options.reranker ? Promise.resolve() : this.#measure();
    this.ready.catch(() => {}); // surfaced by search()
  }

  /** The reranker's cost model (after `ready`), e.g. to save it as a profile. */
  get cost(): CostModel | undefined {
    return this.#cost;
  }

  async #measure(): Promise<void> {
    const samples: string[] = [];
    for (const doc of this.#options.documents?.values?.() ?? []) {
      samples.push(indexText(doc));
      if (samples.length >= 16) break;
    }
    // Without documents to sample, passage-sized filler text stands in (cost depends on length only).
    if (samples.length === 0) samples.push(Array.from({ length: 120 }, (_, i) => `word${i % 37}`).join(' '));
    this.#cost = await CostModel.measure(this.#options.reranker!, samples);
  }

  async search(query: string, options: SearchOptions = {}): Promise<SearchResponse> {
    const start = performance.now();
    checkQuery(query);
    const topN = positiveInteger(options.topN, 'topN', this.#topN);
    const candidates = positiveInteger(options.candidates, 'candidates', this.#candidates);
    const budgetMs = budget(options.budgetMs, 'budgetMs') ?? this.#budgetMs;
    const { retriever, reranker, documents } = this.#options;
    if (budgetMs !== undefined && reranker) await this.ready;
    const t0 = performance.now();
    const deadline = budgetMs === undefined ? undefined : start + budgetMs - Math.max(RESERVE_MS, budgetMs * RESERVE_SHARE);

    let accept: ((id: string) => boolean) | undefined;
    if (options.filter !== undefined) {
      checkFilter(options.filter);
      if (!retriever.filtersMetadata) {
        if (!documents) throw new InvalidArgumentError('filters need a document source (documents) to read metadata from');
        accept = documents.accept(options.filter);
      }
    }
    const hits1 = await retriever.retrieve(query, candidates, { accept, filter: options.filter });
    const hits: PipelineHit[] = hits1.map((h, i) => ({
      id: h.id,
      score: h.score,
      reranked: false,
      stage1Rank: i + 1,
      stage1Score: h.score,
      document: h.document ?? documents?.get(h.id),
    }));
    const t1 = performance.now();

    let partial = false;
    if (reranker && hits.length > 0) {
      const scorable = hits.filter((h) => h.document !== undefined);
      if (deadline !== undefined && performance.now() >= deadline) {
        partial = true;
      } else {
        const outcome = await rerankStage(reranker, query, scorable.map((h) => indexText(h.document!)), {
          passages: this.#passages,
          deadline,
          cost: this.#cost,
          minCandidates: this.#options.minCandidates,
        });
        scorable.forEach((h, i) => {
          const score = outcome.scores[i];
          if (score !== null) Object.assign(h, { score, reranked: true });
          if (outcome.truncated[i]) h.truncated = true;
          if (this.#passages && outcome.passages[i]) h.passages = outcome.passages[i];
        });
        partial = outcome.partial;
      }
      orderHits(hits);
    }
    const t2 = performance.now();

    let final = hits;
    for (const stage of this.#options.stages ?? []) {
      const stageDeadline = budgetMs === undefined ? undefined : start + budgetMs - RESERVE_MS;
      if (stageDeadline !== undefined && performance.now() >= stageDeadline) {
        partial = true;
        break;
      }
      const outcome = await runStage(stage, final, { query, deadline: stageDeadline });
      final = outcome.hits;
      partial ||= outcome.partial;
    }
    const t3 = performance.now();

    const results: SearchResult[] = final.slice(0, topN).map((h) => {
      const r: SearchResult = { id: h.id, score: h.score, reranked: h.reranked, stage1Rank: h.stage1Rank, stage1Score: h.stage1Score };
      if (h.document) r.document = h.document;
      if (h.truncated) r.truncated = true;
      if (h.passages !== undefined) r.passages = h.passages;
      return r;
    });
    return {
      results,
      partial,
      timings: { stage1Ms: t1 - t0, rerankMs: t2 - t1, stage3Ms: t3 - t2, totalMs: performance.now() - start },
      counts: { candidates: hits.length, reranked: hits.filter((h) => h.reranked).length, truncated: hits.filter((h) => h.truncated).length },
    };
  }
}
