/**
 * The CPU reference holds a model's weights in fp32: a model too large for the memory left is
 * refused at load with an OutOfMemoryError that gives the numbers and the way out, instead of
 * the kernel's OOM killer ending the process mid-load (allocations succeed under overcommit).
 * CROSSRANK_AVAILABLE_MEMORY stands in for the machine's available memory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { OutOfMemoryError } from '../../src/errors.js';
import { makeModel } from '../../src/model/make-model.js';
import { parseSafetensorsHeader } from '../../src/model/safetensors.js';
import { bertTokenizerDir, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
const models: Record<string, string> = {};
/** fp32 bytes of every tensor in a model.safetensors: what the CPU reference holds for an encoder. */
const tensorBytes = (file: string) => {
  const bytes = readFileSync(file);
  const { tensors } = parseSafetensorsHeader(bytes, bytes.length);
  return [...tensors.values()].reduce((n, t) => n + t.data_offsets[1] - t.data_offsets[0], 0);
};

beforeAll(() => {
  for (const preset of ['tiny', 'tiny-xlmr']) {
    models[preset] = join(dir.path, preset);
    makeModel({ preset, seed: 2, out: models[preset], tokenizer: preset === 'tiny' ? bertTokenizerDir : undefined });
  }
  models['qwen3-tiny'] = join(dir.path, 'qwen3-tiny');
  makeModel({ preset: 'qwen3-tiny', seed: 2, out: models['qwen3-tiny'], tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
});
afterEach(() => {
  delete process.env.CROSSRANK_AVAILABLE_MEMORY;
});
afterAll(() => dir.cleanup());

async function loadWith(model: string, available: number | undefined): Promise<unknown> {
  if (available === undefined) delete process.env.CROSSRANK_AVAILABLE_MEMORY;
  else process.env.CROSSRANK_AVAILABLE_MEMORY = String(available);
  try {
    const encoder = await CrossEncoder.load(model, { backend: 'native' });
    await encoder.dispose();
    return 'loaded';
  } catch (error) {
    return error;
  }
}

describe('the CPU reference checks memory before reading weights', () => {
  it.each(['tiny', 'tiny-xlmr'])('%s: needs exactly its fp32 weights; one byte less is refused with the numbers', async (preset) => {
    const need = tensorBytes(join(models[preset], 'model.safetensors')); // written in fp32: file bytes = held bytes
    expect(await loadWith(models[preset], need)).toBe('loaded');
    const error = await loadWith(models[preset], need - 1);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect((error as OutOfMemoryError).code).toBe('CROSSRANK_OUT_OF_MEMORY');
    expect((error as Error).message).toContain(`(${need} bytes) of memory`);
    expect((error as Error).message).toMatch(/device 'cuda'.*backend 'onnx'/);
  });

  it('an LLM reranker too large for the memory left is refused, and loads once there is room', async () => {
    const error = await loadWith(models['qwen3-tiny'], 100_000);
    expect(error).toBeInstanceOf(OutOfMemoryError);
    expect((error as Error).message).toMatch(/weights of this model \(fp32\) need [\d.]+ MB \(\d+ bytes\) of memory; 0.1 MB is available/);
    expect(await loadWith(models['qwen3-tiny'], undefined)).toBe('loaded');
  });
});
