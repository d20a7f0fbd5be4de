/**
 * The native WordPiece tokenizer gives exactly the ids and type ids of Hugging Face
 * `tokenizers` (the Rust implementation) on >= 5,000 real pairs plus hard cases, at max
 * length 512 and 64, with both truncation strategies.
 */
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { native } from '../../src/native/load.js';
import { NativeWordPieceTokenizer, type TruncationStrategy } from '../../src/tokenizer/pair-tokenizer.js';
import { readTokenizerSpec, type WordPieceSpec } from '../../src/tokenizer/tokenizer-spec.js';
import { hardPairs, realPairs } from '../fixtures/tokenizer-pairs.js';
import { bertTokenizerDir } from '../helpers.js';

const real = realPairs();
const pairs = [...real, ...hardPairs];
let ours: NativeWordPieceTokenizer;

beforeAll(() => {
  const spec = readTokenizerSpec(bertTokenizerDir);
  expect(spec.kind).toBe('wordpiece');
  ours = new NativeWordPieceTokenizer(spec as WordPieceSpec);
});

async function compare(maxLength: number, truncation: TruncationStrategy) {
  const oracle = Tokenizer.fromFile(join(bertTokenizerDir, 'tokenizer.json'));
  oracle.disablePadding();
  oracle.setTruncation(maxLength, { strategy: (truncation === 'only_second' ? 'OnlySecond' : 'LongestFirst') as never });
  const index = Int32Array.from(pairs.keys());
  const enc = await ours.encodePairs(
    pairs.map((p) => p[0]),
    pairs.map((p) => p[1]),
    index,
    index,
    { maxLength, truncation },
  );
  const mismatches: string[] = [];
  let compared = 0;
  for (let i = 0; i < pairs.length; i++) {
    let e;
    try {
      e = await oracle.encode(pairs[i][0], pairs[i][1]);
    } catch {
      // only_second with a query longer than the budget: tokenizers refuses; we cut the query
      // (documented). Nothing to compare against.
      expect(truncation).toBe('only_second');
      continue;
    }
    compared++;
    const ids = Array.from(enc.ids.subarray(enc.offsets[i], enc.offsets[i + 1]));
    const types = Array.from(enc.typeIds.subarray(enc.offsets[i], enc.offsets[i + 1]));
    if (ids.join() !== e.getIds().join() || types.join() !== e.getTypeIds().join()) {
      mismatches.push(`#${i} ${JSON.stringify(pairs[i]).slice(0, 160)}\n  ours ${ids.slice(0, 30)}\n  ref  ${e.getIds().slice(0, 30)}`);
    }
    expect(ids.length).toBeLessThanOrEqual(maxLength);
  }
  return { mismatches, compared };
}

describe('native WordPiece tokenizer vs Hugging Face tokenizers', () => {
  it('has >= 5,000 real pairs and the hard cases', () => {
    expect(real.length).toBeGreaterThanOrEqual(5000);
    expect(hardPairs.length).toBeGreaterThanOrEqual(20);
  });

  it.each([
    [512, 'longest_first'],
    [64, 'longest_first'],
    [512, 'only_second'],
    [64, 'only_second'],
  ] as const)('max length %i, %s: identical ids and type ids', async (maxLength, truncation) => {
    const { mismatches, compared } = await compare(maxLength, truncation);
    expect(compared).toBeGreaterThan(pairs.length * 0.95);
    expect(mismatches.slice(0, 5).join('\n'), `${mismatches.length} mismatching pairs`).toBe('');
  });

  it('truncates only when needed and reports it', async () => {
    const index = Int32Array.from([0, 1]);
    const enc = await ours.encodePairs(['short query', 'q'], ['short document', 'word '.repeat(1000)], index, index, {
      maxLength: 32,
      truncation: 'longest_first',
    });
    expect(Array.from(enc.truncated)).toEqual([0, 1]);
    expect(enc.offsets[2] - enc.offsets[1]).toBe(32);
  });
});

describe("documents split over the tokenizer's native threads", () => {
  it('gives the ids of one thread, in order, for any number of threads', async () => {
    const spec = readTokenizerSpec(bertTokenizerDir) as WordPieceSpec;
    // 1,001 distinct documents: uneven chunks, each tokenizer with a cold cache.
    const docs = real.slice(0, 1001).map((p, i) => `${p[1]} ${i}`);
    const pairDoc = Int32Array.from(docs.keys());
    const options = { maxLength: 256, truncation: 'longest_first' as const };
    const encode = (threads: number) =>
      new NativeWordPieceTokenizer(spec, { threads }).encodePairs(['a query'], docs, new Int32Array(docs.length), pairDoc, options);
    const one = await encode(1);
    for (const threads of [2, 3, 7]) {
      const split = await encode(threads);
      expect(Array.from(split.offsets)).toEqual(Array.from(one.offsets));
      expect(Array.from(split.ids)).toEqual(Array.from(one.ids));
    }
  });

  it('refuses a thread count that is not a positive integer', () => {
    const spec = readTokenizerSpec(bertTokenizerDir) as WordPieceSpec;
    for (const threads of [0, -1, 1.5, Number.NaN, 257]) {
      expect(() => new NativeWordPieceTokenizer(spec, { threads })).toThrow(expect.objectContaining({ code: 'CROSSRANK_INVALID_ARGUMENT' }));
    }
    // The binding checks too (it is reachable without the class).
    const NativeTokenizer = native().NativeTokenizer;
    for (const threads of [0, 2.5, 'two', 1000]) {
      expect(() => new NativeTokenizer(spec.vocab, spec.config, threads as number)).toThrow(expect.objectContaining({ code: 'CROSSRANK_INVALID_ARGUMENT' }));
    }
  });

  it('encodes the pairs of a chunk from the texts they use, as if given only those', async () => {
    const spec = readTokenizerSpec(bertTokenizerDir) as WordPieceSpec;
    const docs = real.slice(0, 300).map((p) => p[1]);
    const queries = ['first query', 'second query', 'third query'];
    const options = { maxLength: 128, truncation: 'longest_first' as const };
    // A chunk of pairs in the middle of a large call: a few documents, out of order, one twice.
    const pairDoc = Int32Array.from([250, 7, 120, 7, 299]);
    const pairQuery = Int32Array.from([2, 0, 2, 1, 0]);
    const tokenizer = new NativeWordPieceTokenizer(spec);
    const tokenized = vi.spyOn(tokenizer, 'encodeTexts');
    const chunk = await tokenizer.encodePairs(queries, docs, pairQuery, pairDoc, options);
    // Only the chunk's four distinct documents were tokenized, not the call's 300.
    expect(tokenized.mock.calls.map(([texts]) => texts)).toEqual([[docs[250], docs[7], docs[120], docs[299]]]);
    const alone = await new NativeWordPieceTokenizer(spec).encodePairs(
      Array.from(pairQuery, (q) => queries[q]),
      Array.from(pairDoc, (d) => docs[d]),
      Int32Array.from(pairQuery.keys()),
      Int32Array.from(pairDoc.keys()),
      options,
    );
    expect(Array.from(chunk.ids)).toEqual(Array.from(alone.ids));
    expect(Array.from(chunk.offsets)).toEqual(Array.from(alone.offsets));
    expect(Array.from(chunk.typeIds)).toEqual(Array.from(alone.typeIds));
    // An index past the texts is still refused.
    await expect(tokenizer.encodePairs(queries, docs, Int32Array.from([0]), Int32Array.from([300]), options)).rejects.toThrow(/out of range/);
  });

  it('serves concurrent calls on one tokenizer (they take turns on its threads) with the ids each gets alone', async () => {
    const spec = readTokenizerSpec(bertTokenizerDir) as WordPieceSpec;
    const tokenizer = new (native().NativeTokenizer)(spec.vocab, spec.config, 4);
    const lists = [0, 1, 2, 3, 4, 5].map((k) => real.slice(k * 150, (k + 1) * 150).map((p) => p[1]));
    const alone: number[][] = [];
    for (const texts of lists) alone.push(Array.from((await tokenizer.encode(texts)).ids));
    const together = await Promise.all(lists.map((texts) => tokenizer.encode(texts)));
    together.forEach((result, k) => expect(Array.from(result.ids)).toEqual(alone[k]));
  });
});

describe('vocab.txt + tokenizer_config.json (no tokenizer.json)', () => {
  it('reads the same tokenizer and gives the same ids', async () => {
    const { mkdtempSync, copyFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'crossrank-vocab-'));
    try {
      copyFileSync(join(bertTokenizerDir, 'vocab.txt'), join(dir, 'vocab.txt'));
      copyFileSync(join(bertTokenizerDir, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
      const spec = readTokenizerSpec(dir);
      expect(spec.kind).toBe('wordpiece');
      const fromVocab = new NativeWordPieceTokenizer(spec as WordPieceSpec);
      const sample = pairs.filter((_, i) => i % 10 === 0);
      const index = Int32Array.from(sample.keys());
      const options = { maxLength: 128, truncation: 'longest_first' as const };
      const a = await fromVocab.encodePairs(sample.map((p) => p[0]), sample.map((p) => p[1]), index, index, options);
      const b = await ours.encodePairs(sample.map((p) => p[0]), sample.map((p) => p[1]), index, index, options);
      expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
      expect(Array.from(a.offsets)).toEqual(Array.from(b.offsets));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
