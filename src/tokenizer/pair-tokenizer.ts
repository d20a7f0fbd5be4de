/**
 * Pair tokenization for cross-encoders: each (query, document) pair becomes
 * [CLS] q [SEP] d [SEP] (or the model's own template), truncated to the model's length.
 *
 * BERT WordPiece tokenizers run natively: each distinct query is tokenized once per chunk of pairs,
 * document tokens are cached (LRU), and the pairs are assembled in native code. Other
 * tokenizers go through Hugging Face `tokenizers`, which encodes each pair whole.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

import { InvalidArgumentError } from '../errors.js';
import { NativeTruncation, type NativeTokenizerInstance } from '../native/binding.js';
import { native } from '../native/load.js';
import { LruCache } from './lru.js';
import type { HfTokenizerSpec, TokenizerSpec, WordPieceSpec } from './tokenizer-spec.js';

export type TruncationStrategy = 'longest_first' | 'only_second';

export interface PairEncodings {
  ids: Int32Array;
  typeIds: Int32Array;
  /** Pair i is ids[offsets[i] .. offsets[i+1]). */
  offsets: Int32Array;
  /** 1 where the pair was cut to fit maxLength. */
  truncated: Uint8Array;
  /**
   * Decoder prompts: how many leading tokens of each row are its query's prompt prefix,
   * identical across the query's documents (the native decoder runs them once).
   */
  prefixLengths?: Int32Array;
}

export interface PairEncodeOptions {
  /** Total length including special tokens. */
  maxLength: number;
  truncation: TruncationStrategy;
}

export interface PairTokenizer {
  readonly kind: 'native-wordpiece' | 'hf-tokenizers' | 'qwen3-prompt';
  readonly padId: number;
  /** Pairs (queries[pairQuery[i]], docs[pairDoc[i]]). */
  encodePairs(
    queries: string[],
    docs: string[],
    pairQuery: Int32Array,
    pairDoc: Int32Array,
    options: PairEncodeOptions,
  ): Promise<PairEncodings>;
  /** How many tokens each text takes on its own, special tokens excluded. */
  countTokens(texts: string[]): Promise<Int32Array>;
  /** Single texts with their special tokens ([CLS] text [SEP]), cut to maxLength (for bi-encoders). */
  encodeSingles(texts: string[], maxLength: number): Promise<PairEncodings>;
}

export const truncationStrategies: TruncationStrategy[] = ['longest_first', 'only_second'];

function concat(lists: Int32Array[]): { ids: Int32Array; offsets: Int32Array } {
  const offsets = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i] + lists[i].length;
  const ids = new Int32Array(offsets[lists.length]);
  lists.forEach((list, i) => ids.set(list, offsets[i]));
  return { ids, offsets };
}

/**
 * Default threads a tokenizer splits a request's documents over (its own, in native code):
 * the cores, up to 8 — a request of 100 passages gives each of 8 threads about a dozen, and
 * more would mostly wait on one another.
 */
export function defaultTokenizeThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** The texts `index` refers to, each once in first-use order, and `index` renumbered into them. */
function usedTexts(texts: string[], index: Int32Array): { texts: string[]; index: Int32Array } {
  const position = new Map<number, number>();
  const used: string[] = [];
  const renumbered = new Int32Array(index.length);
  for (let i = 0; i < index.length; i++) {
    if (index[i] < 0 || index[i] >= texts.length) {
      renumbered[i] = -1; // still out of range: the native pair builder refuses it
      continue;
    }
    let at = position.get(index[i]);
    if (at === undefined) {
      at = used.push(texts[index[i]]) - 1;
      position.set(index[i], at);
    }
    renumbered[i] = at;
  }
  return { texts: used, index: renumbered };
}

export class NativeWordPieceTokenizer implements PairTokenizer {
  readonly kind = 'native-wordpiece' as const;
  readonly padId: number;
  readonly #tokenizer: NativeTokenizerInstance;
  readonly #spec: WordPieceSpec;
  readonly #docCache: LruCache<string, Int32Array>;

  /**
   * `cacheSize`: documents whose tokens are kept (LRU); `threads`: native threads a batch of
   * documents is split over (default: defaultTokenizeThreads()).
   */
  constructor(spec: WordPieceSpec, options: { cacheSize?: number; threads?: number } = {}) {
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1 && options.threads <= 256)) {
      throw new InvalidArgumentError(`threads must be an integer from 1 to 256, got ${options.threads}`);
    }
    this.#spec = spec;
    this.padId = spec.padId;
    this.#tokenizer = new (native().NativeTokenizer)(spec.vocab, spec.config, options.threads ?? defaultTokenizeThreads());
    this.#docCache = new LruCache(options.cacheSize ?? 20_000);
  }

  /** Token ids of texts without special tokens (for `crossrank tokenize` and tests). */
  async encodeTexts(texts: string[]): Promise<Int32Array[]> {
    const { ids, offsets } = await this.#tokenizer.encode(texts);
    return texts.map((_, i) => ids.subarray(offsets[i], offsets[i + 1]));
  }

  async #docTokens(docs: string[]): Promise<Int32Array[]> {
    const out: (Int32Array | undefined)[] = docs.map((d) => this.#docCache.get(d));
    const missing = [...new Set(docs.filter((_, i) => out[i] === undefined))];
    if (missing.length > 0) {
      const encoded = await this.encodeTexts(missing); // over the tokenizer's threads
      const fresh = new Map(missing.map((text, i) => [text, encoded[i].slice()]));
      for (const [text, ids] of fresh) this.#docCache.set(text, ids);
      docs.forEach((d, i) => (out[i] ??= fresh.get(d)));
    }
    return out as Int32Array[];
  }

  async countTokens(texts: string[]): Promise<Int32Array> {
    return Int32Array.from(await this.#docTokens(texts), (ids) => ids.length);
  }

  async encodeSingles(texts: string[], maxLength: number): Promise<PairEncodings> {
    const room = Math.max(0, maxLength - 2);
    const tokens = await this.#docTokens(texts);
    const lists = tokens.map((ids) => {
      const out = new Int32Array(Math.min(ids.length, room) + 2);
      out[0] = this.#spec.clsId;
      out.set(ids.subarray(0, room), 1);
      out[out.length - 1] = this.#spec.sepId;
      return out;
    });
    const { ids, offsets } = concat(lists);
    return { ids, typeIds: new Int32Array(ids.length), offsets, truncated: Uint8Array.from(tokens, (t) => (t.length > room ? 1 : 0)) };
  }

  async encodePairs(
    queries: string[],
    docs: string[],
    pairQuery: Int32Array,
    pairDoc: Int32Array,
    options: PairEncodeOptions,
  ): Promise<PairEncodings> {
    // Only the queries and documents these pairs use: a large call passes all of its texts
    // with each chunk of pairs, and tokenizing (and concatenating) them all for every chunk
    // made the first chunk wait for the whole call's tokens and the work grow as chunks x texts.
    const usedQueries = usedTexts(queries, pairQuery);
    const usedDocs = usedTexts(docs, pairDoc);
    // Queries: once per call, on this thread (short); documents: off-thread, cached.
    const q = usedQueries.texts.length <= 4 && usedQueries.texts.every((s) => s.length < 4096)
      ? this.#tokenizer.encodeSync(usedQueries.texts)
      : await this.#tokenizer.encode(usedQueries.texts);
    const d = concat(await this.#docTokens(usedDocs.texts));
    return native().encodePairs(q.ids, q.offsets, d.ids, d.offsets, usedQueries.index, usedDocs.index, {
      clsId: this.#spec.clsId,
      sepId: this.#spec.sepId,
      maxLength: options.maxLength,
      truncation: options.truncation === 'only_second' ? NativeTruncation.OnlySecond : NativeTruncation.LongestFirst,
    });
  }
}

interface HfEncoding {
  getIds(): number[];
  getTypeIds(): number[];
  getOverflowing(): unknown[];
}
interface HfTokenizer {
  encode(a: string, b?: string | null): Promise<HfEncoding>;
  setTruncation(maxLength: number, options?: { strategy?: string }): void;
  disableTruncation(): void;
  disablePadding(): void;
}

export class HfPairTokenizer implements PairTokenizer {
  readonly kind = 'hf-tokenizers' as const;
  readonly padId: number;
  readonly #tokenizer: HfTokenizer;
  /** The end of the last call's turn on the tokenizer (see #exclusive). */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(spec: HfTokenizerSpec) {
    const require = createRequire(import.meta.url);
    const { Tokenizer } = require('tokenizers') as { Tokenizer: { fromFile(path: string): HfTokenizer } };
    this.#tokenizer = Tokenizer.fromFile(spec.tokenizerJson);
    this.#tokenizer.disablePadding();
    this.padId = spec.padId;
  }

  async encodePairs(
    queries: string[],
    docs: string[],
    pairQuery: Int32Array,
    pairDoc: Int32Array,
    options: PairEncodeOptions,
  ): Promise<PairEncodings> {
    const strategy = options.truncation === 'only_second' ? 'OnlySecond' : 'LongestFirst';
    const encodings = await this.#exclusive(
      () => this.#tokenizer.setTruncation(options.maxLength, { strategy }),
      () => Promise.all(Array.from(pairQuery, (q, p) => this.#tokenizer.encode(queries[q], docs[pairDoc[p]]))),
    );
    return packEncodings(encodings);
  }

  async encodeSingles(texts: string[], maxLength: number): Promise<PairEncodings> {
    const encodings = await this.#exclusive(
      () => this.#tokenizer.setTruncation(maxLength),
      () => Promise.all(texts.map((text) => this.#tokenizer.encode(text))),
    );
    return packEncodings(encodings);
  }

  async countTokens(texts: string[]): Promise<Int32Array> {
    const [empty, ...encodings] = await this.#exclusive(
      () => this.#tokenizer.disableTruncation(),
      // The special tokens the post-processor adds around a single text, counted once ('').
      () => Promise.all(['', ...texts].map((text) => this.#tokenizer.encode(text))),
    );
    return Int32Array.from(encodings, (e) => e.getIds().length - empty.getIds().length);
  }

  /**
   * Truncation is the tokenizer's state, read by each encode when it runs on a pool thread,
   * so calls that set it differently (pairs at the model's length, counting without a limit)
   * must not overlap: each call configures and runs its encodes (concurrently) alone.
   */
  #exclusive<T>(configure: () => void, work: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(() => {
      configure();
      return work();
    });
    this.#turn = run.catch(() => undefined);
    return run;
  }
}

/** Encodings as one PairEncodings: ids, type ids, offsets, and which were cut (overflowing). */
function packEncodings(encodings: HfEncoding[]): PairEncodings {
  const a = concat(encodings.map((e) => Int32Array.from(e.getIds())));
  const typeIds = concat(encodings.map((e) => Int32Array.from(e.getTypeIds()))).ids;
  const truncated = Uint8Array.from(encodings, (e) => (e.getOverflowing().length > 0 ? 1 : 0));
  return { ids: a.ids, typeIds, offsets: a.offsets, truncated };
}

export function createPairTokenizer(spec: TokenizerSpec): PairTokenizer {
  return spec.kind === 'wordpiece' ? new NativeWordPieceTokenizer(spec) : new HfPairTokenizer(spec);
}

export function parseTruncation(value: string | undefined): TruncationStrategy {
  const v = value ?? 'longest_first';
  if (!truncationStrategies.includes(v as TruncationStrategy)) {
    throw new InvalidArgumentError(`truncation must be one of ${truncationStrategies.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return v as TruncationStrategy;
}
