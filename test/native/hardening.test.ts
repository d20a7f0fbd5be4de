/**
 * Hardening of the native side, run by the test suite: the C++ tests under AddressSanitizer
 * and UndefinedBehaviorSanitizer, each libFuzzer target for a set time (scripts/fuzz.sh;
 * CROSSRANK_FUZZ_SECONDS per target, 10 by default here), the leak check (100k scoring
 * calls, memory stable, both backends), and non-finite scores refused.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeModel } from '../../src/model/make-model.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { parseSafetensorsHeader } from '../../src/model/safetensors.js';
import { bertTokenizerDir, repoRoot, sharedDir, tempDir } from '../helpers.js';

const hasClang = spawnSync('clang++', ['--version']).status === 0;
const fuzzSeconds = process.env.CROSSRANK_FUZZ_SECONDS ?? '10';
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('native hardening', () => {
  it('the C++ tests are clean under ASan + UBSan', () => {
    // The CUDA forward passes on the CPU emulation too: an encoder, and a decoder on real prompts.
    const encoder = join(dir.path, 'sanitize-tiny');
    makeModel({ preset: 'tiny', seed: 6, out: encoder, tokenizer: bertTokenizerDir });
    const decoder = join(dir.path, 'sanitize-qwen3-tiny');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 6, out: decoder, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const prompts = join(dir.path, 'sanitize-prompts.json');
    const made = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'device', 'qwen3-prompts.mjs'), '--queries', '2', '--docs', '3', '--out', prompts], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
    expect(made.status, made.stderr).toBe(0);
    const args = ['--model', encoder, '--qwen3', decoder, '--prompts', prompts];
    // 7–8 minutes on the 2-core CI machine (the sanitized build is most of it): the limit
    // is there to stop a hang, with room for a slower machine.
    const run = spawnSync('bash', [join(repoRoot, 'scripts', 'sanitize.sh'), ...args], { encoding: 'utf8', timeout: 900_000 });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain('native tests: 0 failure(s)');
    // The CUDA kernels on the CPU emulation, where the CUDA headers are installed.
    expect(run.stdout).toMatch(/cuda ops on the emulation( \(incl. the cuBLASLt path\))?: (0 case\(s\) failed|skipped)/);
    if (!run.stdout.includes('emulation: skipped')) {
      expect(run.stdout).toContain('cuda emulation self-test: 0 check(s) failed');
      expect(run.stdout).toContain('cuda encoder on the emulation (fp16, bf16; cuBLASLt path): clean');
      expect(run.stdout).toContain('cuda decoder on the emulation (bf16, fp16): clean');
    }
  }, 900_000);

  it.skipIf(!hasClang)('the fuzz targets run for a set time and find nothing', () => {
    const run = spawnSync('bash', [join(repoRoot, 'scripts', 'fuzz.sh'), fuzzSeconds], { encoding: 'utf8', timeout: 900_000 });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain('fuzz: no findings');
    // Inputs that once found a problem (native/fuzz/regressions) are replayed before fuzzing.
    expect(run.stdout).toMatch(/fuzz: safetensors replays [1-9]\d* kept input/);
    for (const target of ['safetensors', 'json', 'wordpiece']) expect(run.stdout).toContain(`fuzz: ${target}`);
  }, 900_000);

  it.each(['onnx', 'native'])('100k scoring calls leave memory stable (%s)', (backend) => {
    const run = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'leak-check.mjs'), '--calls', '100000', '--backend', backend], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/leak check .*100000 calls/);
  }, 300_000);

  it('a model that computes NaN is refused with a typed error, never a NaN score', async () => {
    const model = join(dir.path, 'nan');
    makeModel({ preset: 'tiny', seed: 3, out: model, tokenizer: bertTokenizerDir });
    // Poison the classifier bias in model.safetensors (the native engine reads it).
    const path = join(model, 'model.safetensors');
    const bytes = readFileSync(path);
    const header = parseSafetensorsHeader(bytes, bytes.length);
    const bias = header.tensors.get('classifier.bias')!;
    bytes.writeFloatLE(Number.NaN, header.dataStart + bias.data_offsets[0]);
    writeFileSync(path, bytes);
    const encoder = await CrossEncoder.load(model, { backend: 'native' });
    try {
      await expect(encoder.score('q', ['a document'])).rejects.toMatchObject({ code: 'CROSSRANK_MODEL_LOAD', message: expect.stringMatching(/non-finite logit \(NaN\)/) });
    } finally {
      await encoder.dispose();
    }
  });
});
