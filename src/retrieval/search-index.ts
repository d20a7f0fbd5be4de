/**
 * An index directory as `crossrank index` writes it and `crossrank search` reads it:
 *
 *   manifest.json   what is inside (format, version, counts, BM25 and HNSW parameters, embedder)
 *   docs.jsonl      the documents with their metadata (document-store.ts)
 *   bm25.bin        the BM25 index (bm25.ts), when built
 *   hnsw.bin/.json  the HNSW graph and its id mapping (hnsw.ts), when built
 *
 * Every part is written atomically; the manifest last, so a crash mid-save leaves the
 * previous manifest naming complete files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { IndexLoadError, InvalidArgumentError } from '../errors.js';
import type { Embedder } from '../embedding/embedder.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { Bm25Index, type Bm25Options } from './bm25.js';
import { DocumentStore } from './document-store.js';
import { HnswRetriever, type HnswOptions } from './hnsw.js';
import { HybridRetriever, type HybridOptions } from './hybrid.js';
import type { IndexDocument, Retriever } from './retriever.js';

export const MANIFEST_FILE = 'manifest.json';

export interface IndexManifest {
  format: 'crossrank-index';
  version: 1;
  documents: number;
  updatedAt: string;
  bm25?: { k1: number; b: number };
  hnsw?: { embedder: string; dimension: number };
}

export interface CreateIndexOptions {
  bm25?: boolean | Bm25Options;
  hnsw?: { embedder: Embedder; embedderName: string } & HnswOptions;
}

export type RetrieverKind = 'bm25' | 'hnsw' | 'hybrid';

export class SearchIndex {
  readonly dir: string;
  readonly documents: DocumentStore;
  readonly bm25: Bm25Index | undefined;
  readonly hnsw: HnswRetriever | undefined;
  readonly #embedderName: string | undefined;

  private constructor(dir: string, documents: DocumentStore, bm25: Bm25Index | undefined, hnsw: HnswRetriever | undefined, embedderName?: string) {
    this.dir = dir;
    this.documents = documents;
    this.bm25 = bm25;
    this.hnsw = hnsw;
    this.#embedderName = embedderName;
  }

  /** A new, empty index (saved by `save()`). */
  static create(dir: string, options: CreateIndexOptions): SearchIndex {
    if (!options.bm25 && !options.hnsw) throw new InvalidArgumentError('an index needs BM25, HNSW or both');
    const bm25 = options.bm25 ? new Bm25Index(options.bm25 === true ? {} : options.bm25) : undefined;
    const hnsw = options.hnsw ? new HnswRetriever(options.hnsw.embedder, options.hnsw) : undefined;
    return new SearchIndex(dir, new DocumentStore(), bm25, hnsw, options.hnsw?.embedderName);
  }

  static readManifest(dir: string): IndexManifest {
    const path = join(dir, MANIFEST_FILE);
    if (!existsSync(path)) throw new IndexLoadError(`${dir} is not a crossrank index (no ${MANIFEST_FILE}); build one with \`crossrank index\``);
    let manifest: IndexManifest;
    try {
      manifest = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new IndexLoadError(`cannot read ${path}: ${(error as Error).message}`);
    }
    if (manifest.format !== 'crossrank-index' || manifest.version !== 1) throw new IndexLoadError(`${path}: not a crossrank index of version 1`);
    return manifest;
  }

  /**
   * Opens a saved index. The HNSW part needs the embedder it was built with (the manifest
   * names it); without one, only BM25 is opened.
   */
  static async open(dir: string, options: { embedder?: Embedder; hnsw?: HnswOptions } = {}): Promise<SearchIndex> {
    const manifest = SearchIndex.readManifest(dir);
    const documents = await DocumentStore.load(dir);
    const bm25 = manifest.bm25 ? await Bm25Index.load(dir) : undefined;
    const hnsw = manifest.hnsw && options.embedder ? await HnswRetriever.load(dir, options.embedder, options.hnsw) : undefined;
    if (documents.size !== manifest.documents) {
      throw new IndexLoadError(`${dir}: the manifest counts ${manifest.documents} documents, docs.jsonl holds ${documents.size}`);
    }
    for (const part of [bm25, hnsw]) {
      if (part && part.size !== documents.size) throw new IndexLoadError(`${dir}: ${part.name} holds ${part.size} documents, docs.jsonl ${documents.size}`);
    }
    return new SearchIndex(dir, documents, bm25, hnsw, manifest.hnsw?.embedder);
  }

  get size(): number {
    return this.documents.size;
  }

  /** Adds (or replaces, by id) documents in every part; returns how many replaced an existing id. */
  async add(docs: readonly IndexDocument[]): Promise<number> {
    const replaced = this.documents.add(docs);
    await this.bm25?.add(docs);
    await this.hnsw?.add(docs);
    return replaced;
  }

  async remove(ids: readonly string[]): Promise<number> {
    await this.bm25?.remove(ids);
    await this.hnsw?.remove(ids);
    return this.documents.remove(ids);
  }

  async save(): Promise<void> {
    await this.documents.save(this.dir);
    await this.bm25?.save(this.dir);
    await this.hnsw?.save(this.dir);
    const manifest: IndexManifest = { format: 'crossrank-index', version: 1, documents: this.documents.size, updatedAt: new Date().toISOString() };
    if (this.bm25) manifest.bm25 = { k1: this.bm25.k1, b: this.bm25.b };
    if (this.hnsw) manifest.hnsw = { embedder: this.#embedderName ?? 'custom', dimension: this.hnsw.embedder.dimension };
    writeFileAtomic(join(this.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  }

  /** The retriever to search with: one part, or both fused (default: hybrid when both exist). */
  retriever(kind?: RetrieverKind, fusion: HybridOptions = {}): Retriever {
    const want = kind ?? (this.bm25 && this.hnsw ? 'hybrid' : this.bm25 ? 'bm25' : 'hnsw');
    const missing = (what: string) => new InvalidArgumentError(`this index has no ${what} part${what === 'HNSW' && !this.hnsw && this.#embedderName ? ' opened (pass the embedder it was built with)' : ''}`);
    if (want === 'bm25') {
      if (!this.bm25) throw missing('BM25');
      return this.bm25;
    }
    if (want === 'hnsw') {
      if (!this.hnsw) throw missing('HNSW');
      return this.hnsw;
    }
    if (want !== 'hybrid') throw new InvalidArgumentError(`retriever must be bm25, hnsw or hybrid, got ${JSON.stringify(want)}`);
    if (!this.bm25 || !this.hnsw) throw missing(this.bm25 ? 'HNSW' : 'BM25');
    return new HybridRetriever([this.bm25, this.hnsw], fusion);
  }

  get embedderName(): string | undefined {
    return this.#embedderName;
  }
}
