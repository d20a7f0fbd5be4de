/**
 * BM25, embedded and persistent: Robertson–Spärck Jones IDF, log(1 + (N − df + .5)/(df + .5)),
 * k1/b length normalisation, over lowercase Unicode letter/digit runs — the plain BM25 of
 * TREC baselines (k1 0.9, b 0.4).
 *
 * Why our own: the well-kept JavaScript libraries that score BM25 (MiniSearch 7.2,
 * wink-bm25-text-search 3.1) took ~100 ms per query at the median on the 60k-document
 * debian-packages corpus (README, "BM25"), five times the whole first-stage budget. Here the
 * postings are typed arrays scanned term at a time into one score array, which takes a few
 * milliseconds at that size.
 *
 * Updates: additions append postings; removals leave a tombstone, and the next query (or
 * save) compacts the postings, so IDF and average length always count live documents only
 * and scores equal those of a fresh index over the same documents.
 *
 * File format (bm25.bin, little-endian): "CRBM25\0\0", u32 version, u32 header bytes, the
 * JSON header {k1, b, ids, terms}, zero padding to 4 bytes, then u32 lengths[ids],
 * u32 termOffsets[terms + 1], i32 docs[postings], u32 tfs[postings]. Every offset and doc
 * number is checked on load.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { IndexLoadError, InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkK, indexText, type IndexDocument, type IndexingRetriever, type RetrieveOptions, type ScoredId } from './retriever.js';

export type { ScoredId } from './retriever.js';

export interface Bm25Options {
  k1?: number;
  b?: number;
}

/** Lowercase runs of letters and digits (Unicode-aware). */
export function bm25Tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

const MAGIC = 'CRBM25\0\0';
const VERSION = 1;
export const BM25_FILE = 'bm25.bin';

interface Postings {
  docs: number[];
  tfs: number[];
}

interface Frozen {
  docs: Int32Array;
  tfs: Uint32Array;
}

export class Bm25Index implements IndexingRetriever {
  readonly name = 'bm25';
  readonly k1: number;
  readonly b: number;
  /** Slot -> id; null for a removed document until the next compaction. */
  #ids: (string | null)[] = [];
  #slots = new Map<string, number>();
  #lengths: number[] = [];
  #postings = new Map<string, Postings>();
  #frozen: Map<string, Frozen> | null = null;
  #totalLength = 0;
  #removed = 0;
  /** False after load() until the first update: the loaded typed postings serve queries as they are. */
  #thawed = true;

  constructor(options: Bm25Options = {}) {
    this.k1 = options.k1 ?? 0.9;
    this.b = options.b ?? 0.4;
    if (!(this.k1 >= 0) || !Number.isFinite(this.k1) || !(this.b >= 0 && this.b <= 1)) {
      throw new InvalidArgumentError('BM25 needs a finite k1 >= 0 and b in [0, 1]');
    }
  }

  get size(): number {
    return this.#slots.size;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  /** Adds one document's text under `id` (replacing a document with the same id). */
  addText(id: string, text: string): void {
    if (typeof id !== 'string' || id === '') throw new InvalidArgumentError('a document id must be a non-empty string');
    if (typeof text !== 'string') throw new InvalidArgumentError(`document ${id}: text must be a string`);
    this.#thaw();
    if (this.#slots.has(id)) this.#removeOne(id);
    const slot = this.#ids.length;
    this.#ids.push(id);
    this.#slots.set(id, slot);
    const counts = new Map<string, number>();
    const tokens = bm25Tokens(text);
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [term, tf] of counts) {
      let p = this.#postings.get(term);
      if (!p) this.#postings.set(term, (p = { docs: [], tfs: [] }));
      p.docs.push(slot);
      p.tfs.push(tf);
    }
    this.#lengths.push(tokens.length);
    this.#totalLength += tokens.length;
    this.#frozen = null;
  }

  async add(docs: readonly IndexDocument[]): Promise<void> {
    for (const doc of docs) this.addText(doc.id, indexText(doc));
  }

  async remove(ids: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of ids) if (this.#removeOne(id)) n++;
    return n;
  }

  #removeOne(id: string): boolean {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    this.#thaw();
    this.#slots.delete(id);
    this.#ids[slot] = null;
    this.#totalLength -= this.#lengths[slot];
    this.#removed++;
    this.#frozen = null;
    return true;
  }

  /** Growable postings from the loaded typed ones, made only when the index is first updated. */
  #thaw(): void {
    if (this.#thawed) return;
    for (const [term, p] of this.#frozen!) this.#postings.set(term, { docs: Array.from(p.docs), tfs: Array.from(p.tfs) });
    this.#thawed = true;
  }

  /** Drops removed documents from the postings and renumbers the slots. */
  #compact(): void {
    if (this.#removed === 0) return;
    const remap = new Int32Array(this.#ids.length).fill(-1);
    const ids: string[] = [];
    const lengths: number[] = [];
    this.#ids.forEach((id, slot) => {
      if (id === null) return;
      remap[slot] = ids.length;
      ids.push(id);
      lengths.push(this.#lengths[slot]);
    });
    for (const [term, p] of this.#postings) {
      const docs: number[] = [];
      const tfs: number[] = [];
      for (let i = 0; i < p.docs.length; i++) {
        const to = remap[p.docs[i]];
        if (to >= 0) docs.push(to), tfs.push(p.tfs[i]);
      }
      if (docs.length === 0) this.#postings.delete(term);
      else this.#postings.set(term, { docs, tfs });
    }
    this.#ids = ids;
    this.#lengths = lengths;
    this.#slots = new Map(ids.map((id, slot) => [id, slot]));
    this.#removed = 0;
  }

  #index(): Map<string, Frozen> {
    if (!this.#frozen) {
      this.#compact();
      this.#frozen = new Map();
      for (const [term, p] of this.#postings) this.#frozen.set(term, { docs: Int32Array.from(p.docs), tfs: Uint32Array.from(p.tfs) });
    }
    return this.#frozen;
  }

  /** The k best documents by BM25 score descending (ties: earlier-indexed first). */
  retrieveSync(query: string, k: number, options: RetrieveOptions = {}): ScoredId[] {
    checkK(k);
    if (typeof query !== 'string') throw new InvalidArgumentError('query must be a string');
    const index = this.#index();
    const n = this.#ids.length;
    if (n === 0) return [];
    const avgdl = this.#totalLength / n || 1;
    const scores = new Float64Array(n);
    const touched: number[] = [];
    for (const term of bm25Tokens(query)) {
      const p = index.get(term);
      if (!p) continue;
      const df = p.docs.length;
      const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = 0; i < df; i++) {
        const d = p.docs[i];
        const tf = p.tfs[i];
        if (scores[d] === 0) touched.push(d);
        scores[d] += (idf * tf * (this.k1 + 1)) / (tf + this.k1 * (1 - this.b + (this.b * this.#lengths[d]) / avgdl));
      }
    }
    const accept = options.accept;
    const candidates = accept ? touched.filter((d) => accept(this.#ids[d]!)) : touched;
    return topK(candidates, scores, k).map((d) => ({ id: this.#ids[d]!, score: scores[d] }));
  }

  async retrieve(query: string, k: number, options?: RetrieveOptions): Promise<ScoredId[]> {
    return this.retrieveSync(query, k, options);
  }

  /** The index as bm25.bin bytes. */
  serialize(): Uint8Array[] {
    const index = this.#index();
    const ids = this.#ids as string[];
    const terms = [...index.keys()];
    const header = Buffer.from(JSON.stringify({ k1: this.k1, b: this.b, ids, terms }), 'utf8');
    const pad = (4 - ((16 + header.length) % 4)) % 4;
    const prefix = Buffer.alloc(16);
    prefix.write(MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(VERSION, 8);
    prefix.writeUInt32LE(header.length, 12);
    const offsets = new Uint32Array(terms.length + 1);
    terms.forEach((t, i) => (offsets[i + 1] = offsets[i] + index.get(t)!.docs.length));
    const docs = new Int32Array(offsets[terms.length]);
    const tfs = new Uint32Array(offsets[terms.length]);
    terms.forEach((t, i) => {
      docs.set(index.get(t)!.docs, offsets[i]);
      tfs.set(index.get(t)!.tfs, offsets[i]);
    });
    const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    return [prefix, header, Buffer.alloc(pad), bytes(Uint32Array.from(this.#lengths)), bytes(offsets), bytes(docs), bytes(tfs)];
  }

  async save(dir: string): Promise<void> {
    writeFileAtomic(join(dir, BM25_FILE), this.serialize());
  }

  static async load(dir: string): Promise<Bm25Index> {
    const path = join(dir, BM25_FILE);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (error) {
      throw new IndexLoadError(`cannot read BM25 index ${path}: ${(error as Error).message}`);
    }
    return Bm25Index.deserialize(bytes, path);
  }

  static deserialize(bytes: Buffer, source = 'BM25 index'): Bm25Index {
    const fail = (why: string): never => {
      throw new IndexLoadError(`${source}: ${why}`);
    };
    if (bytes.length < 16 || bytes.toString('latin1', 0, 8) !== MAGIC) fail('not a crossrank BM25 index');
    const version = bytes.readUInt32LE(8);
    if (version !== VERSION) fail(`format version ${version}, this crossrank reads ${VERSION}`);
    const headerLength = bytes.readUInt32LE(12);
    if (16 + headerLength > bytes.length) fail('header runs past the end of the file');
    let header: { k1: unknown; b: unknown; ids: unknown; terms: unknown };
    try {
      header = JSON.parse(bytes.toString('utf8', 16, 16 + headerLength));
    } catch {
      return fail('header is not valid JSON');
    }
    const { k1, b, ids, terms } = header;
    if (typeof k1 !== 'number' || typeof b !== 'number') return fail('header lacks k1/b');
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) return fail('header ids must be strings');
    if (!Array.isArray(terms) || !terms.every((x) => typeof x === 'string')) return fail('header terms must be strings');
    if (new Set(ids).size !== ids.length) fail('duplicate document ids');
    let at = 16 + headerLength;
    at += (4 - (at % 4)) % 4;
    const u32 = (count: number, what: string): Uint32Array => {
      if (at + count * 4 > bytes.length) fail(`${what} run past the end of the file`);
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes.readUInt32LE(at + i * 4);
      at += count * 4;
      return out;
    };
    const lengths = u32(ids.length, 'document lengths');
    const offsets = u32(terms.length + 1, 'term offsets');
    if (offsets[0] !== 0) fail('term offsets must start at 0');
    for (let i = 0; i < terms.length; i++) if (offsets[i + 1] <= offsets[i]) fail(`term ${JSON.stringify(terms[i])} has no postings or offsets go backwards`);
    const total = offsets[terms.length];
    const docs = new Int32Array(u32(total, 'postings').buffer);
    const tfs = u32(total, 'term frequencies');
    if (at !== bytes.length) fail(`${bytes.length - at} unexpected bytes after the postings`);
    for (let i = 0; i < total; i++) {
      if (docs[i] < 0 || docs[i] >= ids.length) fail(`posting ${i} names document ${docs[i]} of ${ids.length}`);
      if (tfs[i] === 0) fail(`posting ${i} has a zero term frequency`);
    }
    let index: Bm25Index;
    try {
      index = new Bm25Index({ k1, b });
    } catch (error) {
      return fail((error as Error).message);
    }
    index.#ids = ids;
    index.#slots = new Map(ids.map((id, slot) => [id, slot]));
    index.#lengths = Array.from(lengths);
    index.#totalLength = index.#lengths.reduce((a, x) => a + x, 0);
    index.#frozen = new Map();
    terms.forEach((term, i) => index.#frozen!.set(term, { docs: docs.subarray(offsets[i], offsets[i + 1]), tfs: tfs.subarray(offsets[i], offsets[i + 1]) }));
    index.#thawed = false;
    return index;
  }
}

/** The k best of `candidates` by score descending, ties by slot ascending, without a full sort. */
function topK(candidates: number[], scores: Float64Array, k: number): number[] {
  const better = (x: number, y: number) => scores[x] > scores[y] || (scores[x] === scores[y] && x < y);
  if (candidates.length <= k * 4) return candidates.sort((x, y) => (better(x, y) ? -1 : better(y, x) ? 1 : 0)).slice(0, k);
  // A min-heap of the best k seen so far.
  const heap: number[] = [];
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < heap.length && better(heap[worst], heap[l])) worst = l;
      if (r < heap.length && better(heap[worst], heap[r])) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst], heap[i]];
      i = worst;
    }
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!better(heap[parent], heap[i])) return;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  };
  for (const d of candidates) {
    if (heap.length < k) {
      heap.push(d);
      up(heap.length - 1);
    } else if (better(d, heap[0])) {
      heap[0] = d;
      down(0);
    }
  }
  return heap.sort((x, y) => (better(x, y) ? -1 : better(y, x) ? 1 : 0));
}
