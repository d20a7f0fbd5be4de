/**
 * The CUDA backend's checks through the JavaScript API, shared by the GPU tests (a real card,
 * full sizes: test/gpu/*.gpu.test.ts) and the emulation test (the same CUDA code compiled
 * for the CPU, small sizes: test/native/cuda-emulation.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { trecDlWorkload } from '../../src/bench/workload.js';
import { makeModel } from '../../src/model/make-model.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { applyScoreHead } from '../../src/score-head.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { bertTokenizerDir, compareTopK, sharedDir, tempDir } from '../helpers.js';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

/**
 * Near-ties in a ranking: scores closer than this may trade places. 1e-3 in fp16; bf16's unit
 * roundoff is 8 times fp16's (the same rule as the harness's RankTie, native/tests/cuda_model.cc).
 */
const rankTie = { fp16: 1e-3, bf16: 8e-3 } as const;

/**
 * Encoder presets: CUDA logits within 2e-2 of the CPU reference, top-10 order up to near-ties,
 * in fp16 (the default) at two batch sizes and in bf16.
 */
export function encoderOnCuda(presets: string[], docs: number): void {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  it.each(presets)('%s: CUDA equals the CPU reference within 2e-2, fp16 and bf16', async (preset) => {
    const out = join(dir.path, preset);
    makeModel({ preset, seed: 8, out, tokenizer: bertTokenizerDir });
    const work = trecDlWorkload(2, docs);
    const cpu = await CrossEncoder.load(out, { backend: 'native', activation: 'none' });
    const want = await cpu.score(work.queries[0], work.docs[0]);
    await cpu.dispose();
    const runs = [
      { precision: undefined, batchTokens: 512 },
      { precision: undefined, batchTokens: 16_384 },
      { precision: 'bf16', batchTokens: 16_384 },
    ] as const;
    for (const { precision, batchTokens } of runs) {
      const gpu = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', activation: 'none', batchTokens, precision });
      expect(gpu.info).toMatchObject({ device: 'cuda', precision: precision ?? 'fp16' });
      const got = await gpu.score(work.queries[0], work.docs[0]);
      await gpu.dispose();
      expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
      expect(compareTopK(want, got, 10, rankTie[precision ?? 'fp16']).upToTies).toBe(true);
    }
  }, 300_000);
}

/**
 * The Qwen3 decoder: P(yes) within 2e-2 of the CPU reference, each query's top 5 in order up to
 * near-ties, prefix-shared and unshared; batches mixing `queries` queries (several prefixes).
 */
export function qwen3OnCuda(queries: number, docsPerQuery: number): void {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  it('equals the CPU reference within 2e-2, same order, shared = unshared, in bf16 and fp16', async () => {
    const out = join(dir.path, 'qwen3-tiny');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const pairs = bm25Pairs(loadTrecDl(), Math.floor(100 / docsPerQuery), queries * docsPerQuery);
    const cpu = await CrossEncoder.load(out, { backend: 'native', maxLength: 256 });
    const want = await cpu.scorePairs(pairs);
    await cpu.dispose();
    for (const [precision, sharePrefix] of [['bf16', true], ['bf16', false], ['fp16', true]] as const) {
      const gpu = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', maxLength: 256, sharePrefix, precision });
      expect(gpu.info.device).toBe('cuda');
      const got = await gpu.scorePairs(pairs);
      await gpu.dispose();
      expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
      for (let q = 0; q < queries; q++) {
        const slice = (s: Float32Array) => s.subarray(docsPerQuery * q, docsPerQuery * (q + 1));
        expect(compareTopK(slice(want), slice(got), 5, rankTie.fp16).upToTies).toBe(true);
      }
    }
  }, 300_000);
}

/** Multiplies fp32 tensors of a safetensors file in place. */
function scaleTensors(file: string, names: string[], factor: number): void {
  const buf = readFileSync(file);
  const headerBytes = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerBytes).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  for (const name of names) {
    const { dtype, data_offsets: [begin, end] } = header[name];
    if (dtype !== 'F32') throw new Error(`${name}: ${dtype}, expected F32`);
    for (let at = 8 + headerBytes + begin; at < 8 + headerBytes + end; at += 4) buf.writeFloatLE(buf.readFloatLE(at) * factor, at);
  }
  writeFileSync(file, buf);
}

/**
 * Activations past fp16's largest value (65,504), as real LLM checkpoints have in a few
 * channels: one layer's feed-forward weights scaled up (the weights stay far inside fp16's
 * range, their outputs do not). bf16 (the decoder's default, encoders on request) still equals
 * the CPU reference; fp16 (the encoders' default, decoders on request) overflows, and that is
 * a CudaError naming the remedy, never a NaN score.
 */
export function overflowOnCuda(): void {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const overflow = {
    code: 'CROSSRANK_CUDA_ERROR',
    message: expect.stringMatching(/non-finite logit \(batch row \d+\).*load with precision 'bf16'/),
  };

  it("decoder: bf16 equals the CPU reference, fp16 is a CudaError", async () => {
    const out = join(dir.path, 'qwen3-tiny-large');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const mlp = ['gate_proj', 'up_proj', 'down_proj'].map((m) => `model.layers.0.mlp.${m}.weight`);
    scaleTensors(join(out, 'model.safetensors'), mlp, 100);
    const pairs = bm25Pairs(loadTrecDl(), 50, 6);
    const cpu = await CrossEncoder.load(out, { backend: 'native', maxLength: 256 });
    const want = await cpu.scorePairs(pairs);
    await cpu.dispose();
    const bf16 = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', maxLength: 256 });
    const got = await bf16.scorePairs(pairs);
    await bf16.dispose();
    expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
    const fp16 = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', maxLength: 256, precision: 'fp16' });
    await expect(fp16.scorePairs(pairs)).rejects.toMatchObject(overflow);
    await fp16.dispose();
  }, 300_000);

  it('encoder: the CPU reference stays finite, bf16 equals it, fp16 is a CudaError', async () => {
    const out = join(dir.path, 'tiny-large');
    makeModel({ preset: 'tiny', seed: 8, out, tokenizer: bertTokenizerDir });
    const ffn = ['intermediate.dense', 'output.dense'].map((m) => `bert.encoder.layer.0.${m}.weight`);
    scaleTensors(join(out, 'model.safetensors'), ffn, 300);
    const work = trecDlWorkload(1, 4);
    const cpu = await CrossEncoder.load(out, { backend: 'native', activation: 'none' });
    const want = await cpu.score(work.queries[0], work.docs[0]);
    await cpu.dispose();
    expect(want.every(Number.isFinite)).toBe(true);
    const bf16 = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', activation: 'none', precision: 'bf16' });
    const got = await bf16.score(work.queries[0], work.docs[0]);
    await bf16.dispose();
    expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
    const fp16 = await CrossEncoder.load(out, { backend: 'native', device: 'cuda', activation: 'none' });
    await expect(fp16.score(work.queries[0], work.docs[0])).rejects.toMatchObject(overflow);
    await fp16.dispose();
  }, 300_000);
}

/** The score-head kernel against the CPU reference (exact to 1e-6), and its typed errors. */
export function scoreHeadOnCuda(rows: number): void {
  const cases = [
    { numLabels: 1, activation: 'sigmoid' as const, rows: rows + 3 },
    { numLabels: 1, activation: 'identity' as const, rows: 1 },
    { numLabels: 2, activation: 'softmax' as const, rows: 4097 },
    { numLabels: 5, activation: 'softmax' as const, rows: 999, positiveIndex: 3 },
  ];
  it.each(cases)('$activation x$numLabels, $rows rows: kernel equals reference', async (c) => {
    const logits = Float32Array.from({ length: c.rows * c.numLabels }, (_, i) => Math.sin(i * 12.9898) * 12);
    const spec = { numLabels: c.numLabels, activation: c.activation, positiveIndex: c.positiveIndex };
    const cpu = await applyScoreHead(logits, spec);
    const gpu = await applyScoreHead(logits, spec, { device: 'cuda' });
    expect(maxDiff(cpu, gpu)).toBeLessThanOrEqual(1e-6);
  });

  it('reports NaN rows and bad device indices as InvalidArgumentError', async () => {
    await expect(applyScoreHead(Float32Array.from([1, Number.NaN]), { numLabels: 1 }, { device: 'cuda' })).rejects.toThrow(/row 1 is NaN/);
    await expect(applyScoreHead(Float32Array.from([1]), { numLabels: 1 }, { device: 'cuda:99' })).rejects.toThrow(/does not exist/);
  });
}
