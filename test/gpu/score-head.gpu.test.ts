/** CUDA score head against the CPU reference. Skipped where CUDA is not available. */
import { describe, expect, it } from 'vitest';

import { native } from '../../src/native/load.js';
import { applyScoreHead } from '../../src/score-head.js';

const cuda = await native().cudaInfo();

describe.skipIf(!cuda.available)(`score head on CUDA (${cuda.reasonCode})`, () => {
  const cases = [
    { numLabels: 1, activation: 'sigmoid' as const, rows: 100_003 },
    { numLabels: 1, activation: 'identity' as const, rows: 1 },
    { numLabels: 2, activation: 'softmax' as const, rows: 4097 },
    { numLabels: 5, activation: 'softmax' as const, rows: 999, positiveIndex: 3 },
  ];
  it.each(cases)('$activation x$numLabels, $rows rows: kernel equals reference', async (c) => {
    const logits = Float32Array.from({ length: c.rows * c.numLabels }, (_, i) => Math.sin(i * 12.9898) * 12);
    const spec = { numLabels: c.numLabels, activation: c.activation, positiveIndex: c.positiveIndex };
    const cpu = await applyScoreHead(logits, spec);
    const gpu = await applyScoreHead(logits, spec, { device: 'cuda' });
    let maxDiff = 0;
    for (let i = 0; i < cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(cpu[i] - gpu[i]));
    expect(maxDiff).toBeLessThanOrEqual(1e-6);
  });

  it('reports NaN rows and bad device indices as InvalidArgumentError', async () => {
    await expect(applyScoreHead(Float32Array.from([1, Number.NaN]), { numLabels: 1 }, { device: 'cuda' })).rejects.toThrow(/row 1 is NaN/);
    await expect(applyScoreHead(Float32Array.from([1]), { numLabels: 1 }, { device: 'cuda:99' })).rejects.toThrow(/does not exist/);
  });
});
