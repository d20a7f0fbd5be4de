/**
 * The native engine's C++ reference forward pass (backend 'native', device 'cpu') against
 * onnxruntime on the same synthetic weights: within 1e-4 on tiny, minilm-l6 and xlmr-base,
 * across batch sizes and with mixed lengths in a batch, for fp32/fp16/bf16 safetensors.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeModel, type MakeModelOptions } from '../../src/model/make-model.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { bertTokenizerDir, tempDir } from '../helpers.js';

const dir = tempDir();
let pairs: [string, string][] = [];

beforeAll(() => {
  const sample = bm25Pairs(loadTrecDl(), 23, 22);
  // Mixed lengths: a one-word document and one far over the limit.
  pairs = [...sample, ['short query', 'x'], ['long', `${sample[0][1]} `.repeat(10)]];
});
afterAll(() => dir.cleanup());

async function compare(options: Omit<MakeModelOptions, 'out' | 'seed'>, label: string, rows: number, maxLength: number) {
  const out = join(dir.path, label);
  makeModel({ ...options, seed: 21, out, tokenizer: bertTokenizerDir });
  const subset = pairs.slice(0, rows);
  const onnx = await CrossEncoder.load(out, { backend: 'onnx', activation: 'none', maxLength });
  const reference = await onnx.scorePairs(subset);
  await onnx.dispose();
  for (const batchTokens of [maxLength, 1000, 1_000_000]) {
    const nat = await CrossEncoder.load(out, { backend: 'native', activation: 'none', maxLength, batchTokens });
    expect(nat.info.backend).toBe('native');
    const scores = await nat.scorePairs(subset);
    await nat.dispose();
    const diff = Math.max(...Array.from(scores, (s, i) => Math.abs(s - reference[i])));
    expect(diff, `batchTokens ${batchTokens}`).toBeLessThanOrEqual(1e-4);
  }
}

describe('native reference forward vs onnxruntime', () => {
  it('tiny, fp32', () => compare({ preset: 'tiny' }, 'tiny', pairs.length, 128));
  it('tiny, 2 labels, bf16 weights', () => compare({ preset: 'tiny', numLabels: 2, dtype: 'bf16' }, 'tiny-bf16', pairs.length, 128));
  it('tiny, fp16 weights', () => compare({ preset: 'tiny', dtype: 'fp16' }, 'tiny-fp16', pairs.length, 128));
  it('tiny-xlmr (RoBERTa positions, one token type)', () => compare({ preset: 'tiny-xlmr' }, 'tiny-xlmr', pairs.length, 128));
  it('minilm-l6', () => compare({ preset: 'minilm-l6' }, 'minilm', 12, 128), 120_000);
  it('xlmr-base', () => compare({ preset: 'xlmr-base' }, 'xlmr-base', 6, 96), 300_000);
});
