/**
 * With no backend named, a load runs ONNX Runtime where the model has an ONNX export and
 * crossrank's engine where it has only safetensors weights (the official Qwen3-Reranker
 * repositories, most fine-tunes): `CrossEncoder.load(dir)` needs no options for either.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { EncoderEmbedder } from '../../src/embedding/encoder-embedder.js';
import { ModelLoadError } from '../../src/errors.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
const withOnnx = join(dir.path, 'tiny');
const weightsOnly = join(dir.path, 'tiny-safetensors');
const llmWeightsOnly = join(dir.path, 'qwen3-safetensors');
const embedWeightsOnly = join(dir.path, 'embed-safetensors');

beforeAll(() => {
  makeModel({ preset: 'tiny', seed: 3, out: withOnnx, tokenizer: bertTokenizerDir });
  makeModel({ preset: 'tiny', seed: 3, out: weightsOnly, tokenizer: bertTokenizerDir });
  makeModel({ preset: 'qwen3-tiny', seed: 3, out: llmWeightsOnly, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
  makeModel({ preset: 'tiny-embed', seed: 3, out: embedWeightsOnly, tokenizer: bertTokenizerDir });
  for (const d of [weightsOnly, llmWeightsOnly, embedWeightsOnly]) rmSync(join(d, 'onnx'), { recursive: true });
});
afterAll(() => dir.cleanup());

describe('the default backend', () => {
  it('is ONNX Runtime where the model has an export, the native engine where it has only safetensors', async () => {
    const a = await CrossEncoder.load(withOnnx);
    const b = await CrossEncoder.load(weightsOnly);
    try {
      expect([a.info.backend, b.info.backend]).toEqual(['onnx', 'native']);
      const [x, y] = [await a.score('q', ['first passage', 'second one']), await b.score('q', ['first passage', 'second one'])];
      for (let i = 0; i < 2; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-4); // the same weights either way
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it('an LLM reranker with safetensors only loads with no options, and `crossrank rerank` runs it', async () => {
    const m = await CrossEncoder.load(llmWeightsOnly);
    expect(m.info.backend).toBe('native');
    expect(await m.score('what is water', ['water is a liquid', 'cats purr'])).toHaveLength(2);
    await m.dispose();
    writeFileSync(join(dir.path, 'docs.txt'), 'water is a liquid\ncats purr\n');
    const run = runCli(['rerank', '--model', llmWeightsOnly, '--query', 'what is water', '--input', join(dir.path, 'docs.txt'), '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveLength(2);
  });

  it('embedders follow the same rule', async () => {
    const e = await EncoderEmbedder.load(embedWeightsOnly);
    expect(e.info.backend).toBe('native');
    expect((await e.embed(['a sentence']))[0].length).toBeGreaterThan(0);
    await e.dispose();
  });

  it('a named backend is kept, and quantized asks for ONNX: the error says what is missing', async () => {
    await expect(CrossEncoder.load(weightsOnly, { backend: 'onnx' })).rejects.toThrow(/has no onnx\/model.onnx or model.onnx/);
    await expect(CrossEncoder.load(weightsOnly, { quantized: true })).rejects.toThrow(/model_quantized.onnx/);
    const empty = join(dir.path, 'config-only');
    makeModel({ preset: 'tiny', seed: 3, out: empty, tokenizer: bertTokenizerDir });
    rmSync(join(empty, 'onnx'), { recursive: true });
    rmSync(join(empty, 'model.safetensors'));
    const error = await CrossEncoder.load(empty).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(/has no onnx\/model.onnx or model.onnx/);
  });
});
