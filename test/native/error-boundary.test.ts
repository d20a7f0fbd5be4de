/**
 * Errors crossing the native boundary: native failures arrive as CrossrankError
 * subclasses with stable codes, synchronously for bad arguments and as rejected
 * Promises for failures inside a worker, and never crash the process.
 */
import { describe, expect, it } from 'vitest';

import { BackendUnavailableError, CrossrankError, InvalidArgumentError, ModelLoadError } from '../../src/errors.js';
import { NativeActivation, type NativeDecoderConfig, type NativeEncoderConfig } from '../../src/native/binding.js';
import { native } from '../../src/native/load.js';
import { applyScoreHead } from '../../src/score-head.js';
import { runNode } from '../helpers.js';

describe('native errors are typed', () => {
  const binding = native();
  // A valid tiny encoder config; the native checks run before the file is opened.
  const encoder: NativeEncoderConfig = {
    arch: 0, vocabSize: 100, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16,
    maxPositions: 32, typeVocabSize: 2, numLabels: 1, layerNormEps: 1e-12, padTokenId: 0,
  };

  it('throws InvalidArgumentError from native argument checks (bypassing TS validation)', () => {
    const calls: (() => unknown)[] = [
      () => binding.scoreHead(Float32Array.from([1, 2, 3]), 2, NativeActivation.Softmax, 0, -1), // 3 % 2 != 0
      () => binding.scoreHead(Float32Array.from([1]), 1, NativeActivation.Softmax, 0, -1), // softmax needs >= 2
      () => binding.scoreHead(Float32Array.from([1, 2]), 2, NativeActivation.Softmax, 5, -1), // index out of range
      () => binding.scoreHead(Float32Array.from([1]), 1, 99 as NativeActivation, 0, -1), // unknown activation
      () => binding.scoreHead([1] as unknown as Float32Array, 1, NativeActivation.Sigmoid, 0, -1), // not a typed array
      () => binding.scoreHead(new Float32Array(1), 'one' as unknown as number, NativeActivation.Sigmoid, 0, -1),
    ];
    for (const call of calls) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      expect((caught as CrossrankError).code).toBe('CROSSRANK_INVALID_ARGUMENT');
    }
  });

  it('rejects with InvalidArgumentError when the worker finds a NaN logit, naming the row', async () => {
    const logits = Float32Array.from([0.1, 0.2, Number.NaN, 0.4]);
    await expect(binding.scoreHead(logits, 1, NativeActivation.Sigmoid, 0, -1)).rejects.toSatisfy(
      (e: unknown) => e instanceof InvalidArgumentError && /row 2 is NaN/.test((e as Error).message),
    );
  });

  it('checks model configs in native code: every size a 32-bit integer, named when not', () => {
    const decoder = {
      vocabSize: 100, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1,
      headDim: 4, maxPositions: 64, rmsNormEps: 1e-6, ropeTheta: 1e6, tieWordEmbeddings: true,
    };
    const loadEncoder = (patch: object) => () =>
      binding.loadEncoder('no-such-file.safetensors', { ...encoder, ...patch } as NativeEncoderConfig, 1, -1, 'fp16');
    const loadDecoder = (patch: object) => () =>
      binding.loadDecoder('no-such-file.safetensors', { ...decoder, ...patch } as NativeDecoderConfig, Int32Array.of(1, 2), 1, -1, 'bf16');
    // 2 ** 40 used to wrap to 0 on the way in (and cast NaN or 1e12 to int32 is undefined behaviour).
    const cases: [() => unknown, RegExp][] = [
      [loadEncoder({ vocabSize: 2 ** 40 }), /encoder config\.vocabSize must be a 32-bit integer/],
      [loadEncoder({ hiddenSize: 7.5 }), /encoder config\.hiddenSize must be a 32-bit integer/],
      [loadEncoder({ numLayers: undefined }), /encoder config\.numLayers must be a number/],
      [loadEncoder({ layerNormEps: '1e-12' }), /encoder config\.layerNormEps must be a number/],
      [loadDecoder({ headDim: Number.NaN }), /decoder config\.headDim must be a 32-bit integer/],
      [loadDecoder({ numKvHeads: -(2 ** 31) - 1 }), /decoder config\.numKvHeads must be a 32-bit integer/],
      [loadDecoder({ ropeTheta: null }), /decoder config\.ropeTheta must be a number/],
    ];
    for (const [call, message] of cases) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(caught, String(message)).toBeInstanceOf(InvalidArgumentError);
      expect((caught as Error).message).toMatch(message);
    }
  });

  it('loads through the shared worker: a missing file rejects with ModelLoadError, not a crash', async () => {
    await expect(binding.loadEncoder('no-such-file.safetensors', encoder, 1, -1, 'fp16')).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('maps CUDA unavailability to BackendUnavailableError (or runs, on a machine with a GPU)', async () => {
    const info = await binding.cudaInfo();
    const result = binding.scoreHead(Float32Array.from([0]), 1, NativeActivation.Sigmoid, 0, 0);
    if (info.available) await expect(result).resolves.toEqual(Float32Array.from([0.5]));
    else await expect(result).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it('validates in TypeScript with the same error class', async () => {
    await expect(applyScoreHead(Float32Array.from([1, 2, 3]), { numLabels: 2 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(applyScoreHead(Float32Array.from([1]), { numLabels: 1 }, { device: 'gpu' })).rejects.toThrow(/'cpu', 'cuda'/);
    await expect(applyScoreHead([1] as unknown as Float32Array, { numLabels: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('keeps the caller in the stack of an async native error', async () => {
    const error = await applyScoreHead(Float32Array.from([Number.NaN]), { numLabels: 1 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).stack).toContain('error-boundary.test.ts');
  });

  it('gives a plain Error with the code when the binding is used without the factory', () => {
    const run = runNode(`
      import { createRequire } from 'node:module';
      const nodeGypBuild = createRequire(import.meta.url)('node-gyp-build');
      const binding = nodeGypBuild(process.cwd());
      try { binding.scoreHead(new Float32Array(3), 2, 2, 0, -1); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code })); }
    `);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ name: 'Error', code: 'CROSSRANK_INVALID_ARGUMENT' });
  });
});
