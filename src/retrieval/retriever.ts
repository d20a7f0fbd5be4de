/**
 * The one small interface every first stage implements: a query in, the k best document
 * ids with their scores out (best first). Retrievers that own an index also add, remove,
 * save and load documents.
 */
import { InvalidArgumentError } from '../errors.js';

export interface ScoredId {
  id: string;
  score: number;
  /** Retrievers that hold the documents themselves (e.g. PostgreSQL) may return them. */
  document?: { id: string; text: string; title?: string; metadata?: Record<string, unknown> };
}

export interface RetrieveOptions {
  /**
   * Only documents whose id passes are returned. Metadata filters are turned into this
   * predicate by the document store (see document-store.ts), so every retriever filters
   * the same way and during the search, not after (k results are still returned).
   */
  accept?: (id: string) => boolean;
  /** The metadata filter itself, for retrievers that apply it (filtersMetadata). */
  filter?: import('./document-store.js').DocumentFilter;
}

export interface Retriever {
  /** A short name for reports and timings ('bm25', 'hnsw', 'run:bm25.trec', ...). */
  readonly name: string;
  /**
   * True when the retriever reads metadata itself and applies `options.filter` (PostgreSQL);
   * otherwise the pipeline turns the filter into `accept` through its document store.
   */
  readonly filtersMetadata?: boolean;
  retrieve(query: string, k: number, options?: RetrieveOptions): Promise<ScoredId[]>;
}

/** One document to index: the text (title joined in front) and free metadata. */
export interface IndexDocument {
  id: string;
  text: string;
  title?: string;
  metadata?: Record<string, unknown>;
}

export interface IndexingRetriever extends Retriever {
  readonly size: number;
  /** Adds documents; an id already indexed is replaced. */
  add(docs: readonly IndexDocument[]): Promise<void>;
  /** Removes documents by id; returns how many were present. */
  remove(ids: readonly string[]): Promise<number>;
  /** Writes the index into `dir` (created if needed), atomically per file. */
  save(dir: string): Promise<void>;
}

/** The text a retriever indexes for a document: the title, then the body. */
export const indexText = (doc: { text: string; title?: string }): string => (doc.title ? `${doc.title}. ${doc.text}` : doc.text);

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`k must be a positive integer, got ${k}`);
}
