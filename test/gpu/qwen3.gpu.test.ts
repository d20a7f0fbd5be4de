/**
 * The native decoder (Qwen3 reranker) on CUDA against its CPU reference on the same weights:
 * P(yes) within 2e-2 (fp16 weights and activations, fp32 residual stream), the same order,
 * prefix-shared equal to unshared; batches mixing several queries (several prefixes).
 * Skipped where CUDA is not available.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { native } from '../../src/native/load.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { sharedDir, tempDir } from '../helpers.js';

const cuda = await native().cudaInfo();
const dir = tempDir();
afterAll(() => dir.cleanup());

describe.skipIf(!cuda.available)(`Qwen3 decoder on CUDA (${cuda.reasonCode})`, () => {
  it('equals the CPU reference within 2e-2, same order, shared = unshared', async () => {
    const out = join(dir.path, 'qwen3-tiny');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const pairs = bm25Pairs(loadTrecDl(), 4, 100); // 4 queries x 25 documents: several prefixes per batch
    const cpu = await CrossEncoder.load(out, { backend: 'native', maxLength: 256 });
    const want = await cpu.scorePairs(pairs);
    await cpu.dispose();
    for (const sharePrefix of [true, false]) {
      const gpu = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', maxLength: 256, sharePrefix });
      expect(gpu.info.device).toBe('cuda');
      const got = await gpu.scorePairs(pairs);
      await gpu.dispose();
      const diff = Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i])));
      expect(diff).toBeLessThanOrEqual(2e-2);
      for (let q = 0; q < 4; q++) {
        const slice = (s: Float32Array) => Array.from(s.subarray(25 * q, 25 * q + 25));
        const top5 = (s: number[]) => Array.from(s.keys()).sort((a, b) => s[b] - s[a]).slice(0, 5);
        expect(top5(slice(got))).toEqual(top5(slice(want)));
      }
    }
  }, 300_000);
});
