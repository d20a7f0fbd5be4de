/**
 * Dense retrieval: embeddings from an Embedder in an HNSW graph (hnswlib-node, the Node
 * binding of the reference hnswlib). Cosine similarity; incremental add, delete (marked, and
 * the slot reused by later additions), metadata filters applied inside the graph search, and
 * persistence (hnsw.bin from hnswlib + hnsw.json with our id mapping and parameters).
 *
 * hnswlib-node is an optional dependency, loaded on first use: BM25-only users never need
 * its compiled addon.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { BackendUnavailableError, IndexLoadError, InvalidArgumentError } from '../errors.js';
import type { Embedder } from '../embedding/embedder.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkK, indexText, type IndexDocument, type IndexingRetriever, type RetrieveOptions, type ScoredId } from './retriever.js';

export const HNSW_FILE = 'hnsw.bin';
export const HNSW_META_FILE = 'hnsw.json';

interface HnswLib {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number, allowReplaceDeleted?: boolean): void;
  readIndexSync(filename: string, allowReplaceDeleted?: boolean): void;
  writeIndexSync(filename: string): void;
  resizeIndex(newMaxElements: number): void;
  addPoint(point: number[], label: number, replaceDeleted?: boolean): void;
  markDelete(label: number): void;
  searchKnn(query: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] };
  setEf(ef: number): void;
  getMaxElements(): number;
}

function hnswlib(): new (space: 'cosine', dim: number) => HnswLib {
  try {
    return (createRequire(import.meta.url)('hnswlib-node') as { HierarchicalNSW: new (space: 'cosine', dim: number) => HnswLib }).HierarchicalNSW;
  } catch (error) {
    throw new BackendUnavailableError(
      `the HNSW retriever needs the optional dependency hnswlib-node, which is not installed or did not build (${(error as Error).message}); ` +
        'install it with `npm install hnswlib-node` (it compiles with a C++ toolchain)',
    );
  }
}

export interface HnswOptions {
  /** Graph degree (default 16). */
  m?: number;
  /** Candidate list while building (default 200). */
  efConstruction?: number;
  /** Candidate list while searching, at least k (default 100). */
  efSearch?: number;
  /** Texts per embedder call while indexing (default 64). */
  batchSize?: number;
  /** Called after each embedded batch while indexing. */
  onProgress?: (done: number, total: number) => void;
}

interface Meta {
  format: 'crossrank-hnsw';
  version: 1;
  dimension: number;
  m: number;
  efConstruction: number;
  efSearch: number;
  capacity: number;
  /** Label -> document id; null for a deleted slot. */
  labels: (string | null)[];
}

export class HnswRetriever implements IndexingRetriever {
  readonly name = 'hnsw';
  readonly embedder: Embedder;
  readonly #index: HnswLib;
  readonly #m: number;
  readonly #efConstruction: number;
  readonly #efSearch: number;
  readonly #options: HnswOptions;
  #capacity: number;
  #labels: (string | null)[] = [];
  #labelOf = new Map<string, number>();
  #free: number[] = [];

  constructor(embedder: Embedder, options: HnswOptions = {}, restore?: { path: string; meta: Meta }) {
    if (!embedder || typeof embedder.embed !== 'function') throw new InvalidArgumentError('the HNSW retriever needs an embedder');
    this.embedder = embedder;
    this.#options = options;
    this.#m = options.m ?? restore?.meta.m ?? 16;
    this.#efConstruction = options.efConstruction ?? restore?.meta.efConstruction ?? 200;
    this.#efSearch = options.efSearch ?? restore?.meta.efSearch ?? 100;
    for (const [name, v] of [['m', this.#m], ['efConstruction', this.#efConstruction], ['efSearch', this.#efSearch]] as const) {
      if (!Number.isInteger(v) || v < 2) throw new InvalidArgumentError(`HNSW ${name} must be an integer >= 2, got ${v}`);
    }
    const Index = hnswlib();
    this.#index = new Index('cosine', embedder.dimension);
    if (restore) {
      this.#index.readIndexSync(restore.path, true);
      this.#capacity = this.#index.getMaxElements();
      this.#labels = restore.meta.labels;
      this.#labels.forEach((id, label) => (id === null ? this.#free.push(label) : this.#labelOf.set(id, label)));
    } else {
      this.#capacity = 1024;
      this.#index.initIndex(this.#capacity, this.#m, this.#efConstruction, 100, true);
    }
    this.#index.setEf(this.#efSearch);
  }

  get size(): number {
    return this.#labelOf.size;
  }

  async add(docs: readonly IndexDocument[]): Promise<void> {
    const batchSize = this.#options.batchSize ?? 64;
    for (let start = 0; start < docs.length; start += batchSize) {
      const batch = docs.slice(start, start + batchSize);
      const vectors = await this.embedder.embed(batch.map(indexText));
      batch.forEach((doc, i) => this.#addVector(doc.id, vectors[i]));
      this.#options.onProgress?.(Math.min(docs.length, start + batchSize), docs.length);
    }
  }

  #addVector(id: string, vector: Float32Array): void {
    if (vector.length !== this.embedder.dimension) throw new InvalidArgumentError(`embedding of ${id} has ${vector.length} dimensions, expected ${this.embedder.dimension}`);
    const old = this.#labelOf.get(id);
    if (old !== undefined) this.#deleteLabel(old);
    const reuse = this.#free.length > 0;
    const label = reuse ? this.#free.pop()! : this.#labels.length;
    if (!reuse && label >= this.#capacity) {
      this.#capacity *= 2;
      this.#index.resizeIndex(this.#capacity);
    }
    this.#index.addPoint(Array.from(vector), label, reuse);
    this.#labels[label] = id;
    this.#labelOf.set(id, label);
  }

  #deleteLabel(label: number): void {
    this.#index.markDelete(label);
    this.#labelOf.delete(this.#labels[label]!);
    this.#labels[label] = null;
    this.#free.push(label);
  }

  async remove(ids: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of ids) {
      const label = this.#labelOf.get(id);
      if (label === undefined) continue;
      this.#deleteLabel(label);
      n++;
    }
    return n;
  }

  async retrieve(query: string, k: number, options: RetrieveOptions = {}): Promise<ScoredId[]> {
    checkK(k);
    if (typeof query !== 'string') throw new InvalidArgumentError('query must be a string');
    const n = Math.min(k, this.size);
    if (n === 0) return [];
    const [vector] = await this.embedder.embed([query]);
    return this.searchVector(vector, n, options);
  }

  /** Nearest documents to a vector (cosine similarity, best first). */
  searchVector(vector: Float32Array, k: number, options: RetrieveOptions = {}): ScoredId[] {
    const n = Math.min(k, this.size);
    if (n === 0) return [];
    const accept = options.accept;
    const filter = accept ? (label: number) => this.#labels[label] != null && accept(this.#labels[label]!) : undefined;
    if (n > this.#efSearch) this.#index.setEf(n);
    try {
      const { distances, neighbors } = this.#index.searchKnn(Array.from(vector), n, filter);
      return neighbors.map((label, i) => ({ id: this.#labels[label]!, score: 1 - distances[i] }));
    } finally {
      if (n > this.#efSearch) this.#index.setEf(this.#efSearch);
    }
  }

  async save(dir: string): Promise<void> {
    const path = join(dir, HNSW_FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    mkdirSync(dir, { recursive: true });
    try {
      this.#index.writeIndexSync(tmp);
      renameSync(tmp, path);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
    const meta: Meta = {
      format: 'crossrank-hnsw', version: 1, dimension: this.embedder.dimension, m: this.#m, efConstruction: this.#efConstruction,
      efSearch: this.#efSearch, capacity: this.#capacity, labels: this.#labels,
    };
    writeFileAtomic(join(dir, HNSW_META_FILE), JSON.stringify(meta));
  }

  static async load(dir: string, embedder: Embedder, options: HnswOptions = {}): Promise<HnswRetriever> {
    const metaPath = join(dir, HNSW_META_FILE);
    const path = join(dir, HNSW_FILE);
    if (!existsSync(metaPath) || !existsSync(path)) throw new IndexLoadError(`no HNSW index in ${dir} (expected ${HNSW_FILE} and ${HNSW_META_FILE})`);
    let meta: Meta;
    try {
      meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    } catch (error) {
      throw new IndexLoadError(`cannot read ${metaPath}: ${(error as Error).message}`);
    }
    if (meta.format !== 'crossrank-hnsw' || meta.version !== 1 || !Array.isArray(meta.labels)) throw new IndexLoadError(`${metaPath} is not a crossrank HNSW index of version 1`);
    if (meta.dimension !== embedder.dimension) {
      throw new IndexLoadError(`the HNSW index in ${dir} holds ${meta.dimension}-dimensional vectors; this embedder gives ${embedder.dimension}`);
    }
    try {
      return new HnswRetriever(embedder, options, { path, meta });
    } catch (error) {
      if (error instanceof BackendUnavailableError) throw error;
      throw new IndexLoadError(`cannot read ${path}: ${(error as Error).message}`);
    }
  }
}
