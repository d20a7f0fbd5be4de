/**
 * The native engine's CUDA backend against its CPU reference (fp32) on the same weights:
 * logits within 2e-2 (fp16 activations), same order, several batch sizes and mixed lengths.
 * Skipped where CUDA is not available.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { trecDlWorkload } from '../../src/bench/workload.js';
import { makeModel } from '../../src/model/make-model.js';
import { native } from '../../src/native/load.js';
import { bertTokenizerDir, tempDir } from '../helpers.js';

const cuda = await native().cudaInfo();
const dir = tempDir();
afterAll(() => dir.cleanup());

describe.skipIf(!cuda.available)(`native engine on CUDA (${cuda.reasonCode})`, () => {
  it.each(['tiny', 'tiny-xlmr', 'minilm-l6', 'bert-base'])('%s: CUDA equals the CPU reference within 2e-2', async (preset) => {
    const out = join(dir.path, preset);
    makeModel({ preset, seed: 8, out, tokenizer: bertTokenizerDir });
    const work = trecDlWorkload(2, 100);
    const cpu = await CrossEncoder.load(out, { backend: 'native', activation: 'none' });
    const want = await cpu.score(work.queries[0], work.docs[0]);
    await cpu.dispose();
    for (const batchTokens of [512, 16_384]) {
      const gpu = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', activation: 'none', batchTokens });
      const got = await gpu.score(work.queries[0], work.docs[0]);
      await gpu.dispose();
      const diff = Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i])));
      expect(diff).toBeLessThanOrEqual(2e-2);
      const top10 = (s: Float32Array) => Array.from(s.keys()).sort((a, b) => s[b] - s[a]).slice(0, 10);
      expect(top10(got)).toEqual(top10(want));
    }
  }, 300_000);
});
