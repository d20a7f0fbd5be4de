/**
 * Several retrievers as one: each retrieves `depth` candidates (default: k), and the lists
 * are fused (fusion.ts: reciprocal-rank by default, or normalised weighted scores).
 */
import { fuseLists, type FusionOptions } from './fusion.js';
import { checkK, type RetrieveOptions, type Retriever, type ScoredId } from './retriever.js';
import { InvalidArgumentError } from '../errors.js';

export interface HybridOptions extends Omit<FusionOptions, 'topK'> {
  /** Candidates taken from each retriever (default: the k asked for). */
  depth?: number;
}

export class HybridRetriever implements Retriever {
  readonly name: string;
  readonly #retrievers: readonly Retriever[];
  readonly #options: HybridOptions;

  constructor(retrievers: readonly Retriever[], options: HybridOptions = {}) {
    if (!Array.isArray(retrievers) || retrievers.length === 0) throw new InvalidArgumentError('a hybrid retriever needs at least one retriever');
    if (options.depth !== undefined) checkK(options.depth);
    fuseLists(retrievers.map(() => []), options); // validates method, k and weights now
    this.#retrievers = retrievers;
    this.#options = options;
    this.name = `hybrid(${retrievers.map((r) => r.name).join('+')})`;
  }

  async retrieve(query: string, k: number, options?: RetrieveOptions): Promise<ScoredId[]> {
    checkK(k);
    const depth = Math.max(k, this.#options.depth ?? k);
    const lists = await Promise.all(this.#retrievers.map((r) => r.retrieve(query, depth, options)));
    const documents = new Map(lists.flat().filter((h) => h.document).map((h) => [h.id, h.document]));
    return fuseLists(lists, { ...this.#options, topK: k }).map((h) => (documents.has(h.id) ? { ...h, document: documents.get(h.id) } : h));
  }
}
