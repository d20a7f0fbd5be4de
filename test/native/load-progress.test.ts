/**
 * Load progress on the native engine: one report per layer as model.safetensors is read and
 * converted (an LLM reranker's weights take seconds to minutes), for cross-encoders and LLM
 * rerankers; a throwing callback costs a warning, never the load.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeModel } from '../../src/model/make-model.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { bertTokenizerDir, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());
const encoder = join(dir.path, 'minilm-l6');
makeModel({ preset: 'minilm-l6', seed: 3, out: encoder, tokenizer: bertTokenizerDir });
const decoder = join(dir.path, 'qwen3-tiny');
makeQwen3Model({ preset: 'qwen3-tiny', seed: 3, out: decoder, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });

async function reports(model: string): Promise<[number, number][]> {
  const seen: [number, number][] = [];
  const loaded = await CrossEncoder.load(model, { backend: 'native', onLoadProgress: (done, total) => seen.push([done, total]) });
  await loaded.dispose();
  return seen;
}

describe('onLoadProgress', () => {
  it('reports every layer of a cross-encoder, in order, ending at the last', async () => {
    expect(await reports(encoder)).toEqual([1, 2, 3, 4, 5, 6].map((l) => [l, 6]));
  });

  it('reports every layer of an LLM reranker', async () => {
    expect(await reports(decoder)).toEqual([
      [1, 2],
      [2, 2],
    ]);
  });

  it('a callback that throws is a warning, once; the model still loads and scores', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    let calls = 0;
    const loaded = await CrossEncoder.load(encoder, {
      backend: 'native',
      onLoadProgress: () => {
        calls++;
        throw new Error('display broke');
      },
    });
    expect((await loaded.score('q', ['a document'])).length).toBe(1);
    await loaded.dispose();
    await new Promise((resolve) => setImmediate(resolve));  // warnings are emitted on the next tick
    process.off('warning', onWarning);
    expect(calls).toBe(1);
    expect(warnings.filter((w) => /onLoadProgress threw \(display broke\)/.test(w.message))).toHaveLength(1);
  });

  it('must be a function', async () => {
    await expect(CrossEncoder.load(encoder, { backend: 'native', onLoadProgress: 5 as never })).rejects.toMatchObject({
      code: 'CROSSRANK_INVALID_ARGUMENT',
      message: 'onLoadProgress must be a function',
    });
  });
});
