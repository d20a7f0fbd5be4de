/**
 * A GPU older than the CUDA backend's architectures (compute capability < 8.0: T4, V100): the
 * library loads and probes, the device is listed as unsupported, and asking for it is a
 * BackendUnavailableError that says why and what to use instead, before any weights are read
 * — not a launch failure in the middle of the first forward pass. The CPU emulation stands in
 * for such a card (CROSSRANK_CUDA_EMU_COMPUTE=7.5: no kernel image, as on the real one).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeModel } from '../../src/model/make-model.js';
import { native } from '../../src/native/load.js';
import { applyScoreHead } from '../../src/score-head.js';
import { bertTokenizerDir, repoRoot, runCli, tempDir } from '../helpers.js';

const emulation = join(repoRoot, 'build', 'Release', 'libcrossrank_cuda_emu.so');
const built = existsSync(emulation);
// Read when the CUDA library is first opened, below; each test file runs in its own process.
const env = { CROSSRANK_CUDA_LIBRARY: emulation, CROSSRANK_CUDA_EMU_COMPUTE: '7.5' };
if (built) Object.assign(process.env, env);
const dir = tempDir();
afterAll(() => dir.cleanup());

describe.skipIf(!built)('a GPU older than the CUDA kernels (compute capability 7.5, emulated)', () => {
  const unsupported = {
    code: 'CROSSRANK_BACKEND_UNAVAILABLE',
    message: expect.stringMatching(/CUDA device 0 \(.*compute capability 7\.5\) cannot run .* need compute capability 8\.0 or newer; use device 'cpu'/),
  };

  it('is listed, marked unsupported', async () => {
    const cuda = await native().cudaInfo();
    expect(cuda.available, cuda.reason).toBe(true);
    expect(cuda.devices[0]).toMatchObject({ computeCapability: '7.5', supported: false });
  });

  it('refuses the native CUDA engine at load, with the reason', async () => {
    const out = join(dir.path, 'tiny');
    makeModel({ preset: 'tiny', seed: 1, out, tokenizer: bertTokenizerDir });
    await expect(CrossEncoder.load(out, { backend: 'native', device: 'cuda' })).rejects.toMatchObject(unsupported);
    // The CPU is unaffected.
    const cpu = await CrossEncoder.load(out, { backend: 'native' });
    expect((await cpu.score('q', ['a document'])).length).toBe(1);
    await cpu.dispose();
  });

  it('refuses the CUDA score head the same way', async () => {
    const logits = new Float32Array([1, 2]);
    await expect(applyScoreHead(logits, { numLabels: 1, activation: 'sigmoid' }, { device: 'cuda' })).rejects.toMatchObject(unsupported);
  });

  it('crossrank doctor says so', () => {
    const run = runCli(['doctor'], env);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\[0\] .*sm_75.*NOT SUPPORTED/);
  });
});
