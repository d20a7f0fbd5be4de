/**
 * Tokenizers other than WordPiece run through Hugging Face `tokenizers`, whose truncation is
 * state of the tokenizer read when each encode runs on a pool thread: calls that set it
 * differently must not overlap. Checked with the real Qwen3 (BPE) tokenizer against the
 * library itself, one configuration per oracle instance.
 */
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';

import { HfPairTokenizer } from '../../src/tokenizer/pair-tokenizer.js';
import { readTokenizerSpec, type HfTokenizerSpec } from '../../src/tokenizer/tokenizer-spec.js';
import { realPairs } from '../fixtures/tokenizer-pairs.js';
import { sharedDir } from '../helpers.js';

const tokenizerDir = join(sharedDir, 'tokenizers', 'qwen3');
const spec = readTokenizerSpec(tokenizerDir) as HfTokenizerSpec;
const pairs = realPairs().slice(0, 60);
const queries = pairs.map((p) => p[0]);
const docs = pairs.map((p) => p[1]);
const index = Int32Array.from(pairs.keys());

function oracle(configure: (t: Tokenizer) => void): Tokenizer {
  const t = Tokenizer.fromFile(join(tokenizerDir, 'tokenizer.json'));
  t.disablePadding();
  configure(t);
  return t;
}

describe('Hugging Face pair tokenizer', () => {
  it('gives the ids of tokenizers itself for pairs, singles and counts, also when the calls overlap', async () => {
    expect(spec.kind).toBe('hf');
    const maxLength = 24; // most of these pairs are longer: truncation matters
    const pairOracle = oracle((t) => t.setTruncation(maxLength, { strategy: 'LongestFirst' as never }));
    const singleOracle = oracle((t) => t.setTruncation(8));
    const countOracle = oracle((t) => t.disableTruncation());
    const expectedPairs = await Promise.all(pairs.map(([q, d]) => pairOracle.encode(q, d)));
    const expectedSingles = await Promise.all(docs.map((d) => singleOracle.encode(d)));
    const specials = (await countOracle.encode('')).getIds().length;
    const expectedCounts = await Promise.all(docs.map(async (d) => (await countOracle.encode(d)).getIds().length - specials));

    const ours = new HfPairTokenizer(spec);
    // All three at once, twice over: each call must see its own truncation.
    const [enc, singles, counts, enc2] = await Promise.all([
      ours.encodePairs(queries, docs, index, index, { maxLength, truncation: 'longest_first' }),
      ours.encodeSingles(docs, 8),
      ours.countTokens(docs),
      ours.encodePairs(queries, docs, index, index, { maxLength, truncation: 'longest_first' }),
    ]);
    for (const e of [enc, enc2]) {
      pairs.forEach((_, i) => {
        expect(Array.from(e.ids.subarray(e.offsets[i], e.offsets[i + 1]))).toEqual(expectedPairs[i].getIds());
        expect(e.truncated[i]).toBe(expectedPairs[i].getOverflowing().length > 0 ? 1 : 0);
      });
    }
    expect(enc.truncated.some((t) => t === 1)).toBe(true);
    docs.forEach((_, i) => expect(Array.from(singles.ids.subarray(singles.offsets[i], singles.offsets[i + 1]))).toEqual(expectedSingles[i].getIds()));
    expect(Array.from(counts)).toEqual(expectedCounts);
    expect(Math.max(...expectedCounts)).toBeGreaterThan(maxLength);
  });

  it('rejects one call without blocking the next', async () => {
    const ours = new HfPairTokenizer(spec);
    const bad = ours.encodePairs(queries, [5 as unknown as string], Int32Array.from([0]), Int32Array.from([0]), {
      maxLength: 16,
      truncation: 'longest_first',
    });
    await expect(bad).rejects.toThrow();
    const good = await ours.encodePairs(queries, docs, Int32Array.from([1]), Int32Array.from([1]), { maxLength: 16, truncation: 'longest_first' });
    expect(good.offsets[1]).toBeLessThanOrEqual(16);
  });
});
