/**
 * Long documents as overlapping passages (the MaxP approach of Dai & Callan, SIGIR 2019):
 * each passage is scored with the query and the document takes the best passage score
 * ('max') or the mean of its best k ('mean-top-k').
 *
 * Passages are cut at whitespace. Their length in words comes from the document's own
 * tokens-per-word ratio and the room the model leaves after the query, so a passage fits the
 * model in tokens; one that still does not is truncated by the model and reported.
 */
import { InvalidArgumentError } from '../errors.js';

export type PassageAggregate = 'max' | 'mean-top-k';

export interface PassageOptions {
  /** Fraction of a passage shared with the next one (default 0.25). */
  overlap?: number;
  /** How passage scores become a document score (default 'max'). */
  aggregate?: PassageAggregate;
  /** For 'mean-top-k': how many best passages are averaged (default 3). */
  topK?: number;
  /** At most this many passages per document (default 8); the rest of the text is dropped and reported. */
  maxPassages?: number;
}

export interface ResolvedPassageOptions {
  overlap: number;
  aggregate: PassageAggregate;
  topK: number;
  maxPassages: number;
}

export function resolvePassageOptions(options: PassageOptions | boolean | undefined): ResolvedPassageOptions | undefined {
  if (!options) return undefined;
  const o = options === true ? {} : options;
  const r: ResolvedPassageOptions = { overlap: o.overlap ?? 0.25, aggregate: o.aggregate ?? 'max', topK: o.topK ?? 3, maxPassages: o.maxPassages ?? 8 };
  if (!(r.overlap >= 0 && r.overlap < 1)) throw new InvalidArgumentError(`passages.overlap must be in [0, 1), got ${r.overlap}`);
  if (r.aggregate !== 'max' && r.aggregate !== 'mean-top-k') throw new InvalidArgumentError(`passages.aggregate must be 'max' or 'mean-top-k', got ${JSON.stringify(r.aggregate)}`);
  if (!Number.isInteger(r.topK) || r.topK < 1) throw new InvalidArgumentError(`passages.topK must be a positive integer, got ${r.topK}`);
  if (!Number.isInteger(r.maxPassages) || r.maxPassages < 1) throw new InvalidArgumentError(`passages.maxPassages must be a positive integer, got ${r.maxPassages}`);
  return r;
}

export interface Split {
  passages: string[];
  /** True when text past maxPassages was dropped. */
  dropped: boolean;
}

/**
 * Splits `text` (which takes `tokens` model tokens) into passages of at most `room` tokens.
 * A text that fits is returned whole.
 */
export function splitPassages(text: string, tokens: number, room: number, options: ResolvedPassageOptions): Split {
  if (tokens <= room) return { passages: [text], dropped: false };
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length <= 1) return { passages: [text], dropped: false }; // one huge word: the model truncates it
  const tokensPerWord = tokens / words.length;
  // 5% headroom: the ratio is an average and a passage may hold longer words.
  const size = Math.max(1, Math.floor((room / tokensPerWord) * 0.95));
  const step = Math.max(1, size - Math.floor(size * options.overlap));
  const passages: string[] = [];
  let start = 0;
  for (; start < words.length && passages.length < options.maxPassages; start += step) {
    passages.push(words.slice(start, start + size).join(' '));
    if (start + size >= words.length) return { passages, dropped: false };
  }
  return { passages, dropped: true };
}

export function aggregate(scores: readonly number[], options: ResolvedPassageOptions): number {
  if (scores.length === 1) return scores[0];
  if (options.aggregate === 'max') return Math.max(...scores);
  const best = [...scores].sort((a, b) => b - a).slice(0, options.topK);
  return best.reduce((a, x) => a + x, 0) / best.length;
}
