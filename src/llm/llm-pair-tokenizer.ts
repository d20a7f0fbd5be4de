/**
 * The PairTokenizer of decoder rerankers: each (query, document) pair becomes the whole
 * Qwen3-Reranker prompt, one sequence, so that the CrossEncoder's batching and backends
 * serve them like cross-encoder pairs. Documents are cut to fit maxLength; the frame never is.
 */
import { InvalidArgumentError } from '../errors.js';
import type { PairEncodeOptions, PairEncodings, PairTokenizer } from '../tokenizer/pair-tokenizer.js';
import type { Qwen3PromptTokenizer } from './qwen3-reranker-prompt.js';

export class Qwen3RerankerTokenizer implements PairTokenizer {
  readonly kind = 'qwen3-prompt' as const;
  readonly padId: number;
  readonly #prompt: Qwen3PromptTokenizer;
  readonly #instruction: string | undefined;

  constructor(prompt: Qwen3PromptTokenizer, instruction?: string) {
    if (instruction !== undefined && (typeof instruction !== 'string' || instruction.trim() === '')) {
      throw new InvalidArgumentError('instruction must be a non-empty string');
    }
    this.#prompt = prompt;
    this.#instruction = instruction;
    this.padId = prompt.padId;
  }

  async encodePairs(queries: string[], docs: string[], pairQuery: Int32Array, pairDoc: Int32Array, options: PairEncodeOptions): Promise<PairEncodings> {
    const rows: Int32Array[] = new Array(pairQuery.length);
    const truncated = new Uint8Array(pairQuery.length);
    const prefixLengths = new Int32Array(pairQuery.length);
    // One prompt prefix per query, however many documents it has.
    const byQuery = new Map<number, number[]>();
    pairQuery.forEach((q, i) => {
      if (!byQuery.has(q)) byQuery.set(q, []);
      byQuery.get(q)!.push(i);
    });
    for (const [q, members] of byQuery) {
      const p = await this.#prompt.encode(queries[q], members.map((i) => docs[pairDoc[i]]), { maxLength: options.maxLength, instruction: this.#instruction });
      members.forEach((row, k) => {
        const ids = new Int32Array(p.prefix.length + p.documents[k].length + p.suffix.length);
        ids.set(p.prefix, 0);
        ids.set(p.documents[k], p.prefix.length);
        ids.set(p.suffix, p.prefix.length + p.documents[k].length);
        rows[row] = ids;
        truncated[row] = p.truncated[k] ? 1 : 0;
        prefixLengths[row] = p.prefix.length;
      });
    }
    const offsets = new Int32Array(rows.length + 1);
    rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
    const ids = new Int32Array(offsets[rows.length]);
    rows.forEach((r, i) => ids.set(r, offsets[i]));
    return { ids, typeIds: new Int32Array(ids.length), offsets, truncated, prefixLengths };
  }

  countTokens(texts: string[]): Promise<Int32Array> {
    return this.#prompt.countTokens(texts);
  }

  async encodeSingles(): Promise<PairEncodings> {
    throw new InvalidArgumentError('a decoder reranker is not an embedding model');
  }
}
