/** The score head's CPU reference (native) against the formulas computed here in float64. */
import { describe, expect, it } from 'vitest';

import { applyScoreHead } from '../../src/score-head.js';

function randomLogits(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 20;
  });
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('score head (CPU reference)', () => {
  it('applies sigmoid to single logits', async () => {
    const logits = randomLogits(1000, 1);
    const scores = await applyScoreHead(logits, { numLabels: 1 });
    expect(scores).toHaveLength(1000);
    scores.forEach((s, i) => expect(Math.abs(s - sigmoid(logits[i]))).toBeLessThan(1e-7));
  });

  it('applies 2-class softmax and takes column 1 by default', async () => {
    const logits = randomLogits(2 * 500, 2);
    const scores = await applyScoreHead(logits, { numLabels: 2 });
    scores.forEach((s, i) => expect(Math.abs(s - sigmoid(logits[2 * i + 1] - logits[2 * i]))).toBeLessThan(1e-6));
  });

  it('takes column 0 for true/false-token heads', async () => {
    const logits = Float32Array.from([3, 1, -2, 2]);
    const scores = await applyScoreHead(logits, { numLabels: 2, activation: 'softmax', positiveIndex: 0 });
    expect(scores[0]).toBeCloseTo(sigmoid(2), 6);
    expect(scores[1]).toBeCloseTo(sigmoid(-4), 6);
  });

  it('passes raw logits through with identity, clamping infinities', async () => {
    const scores = await applyScoreHead(Float32Array.from([1.25, -7, Infinity]), { numLabels: 1, activation: 'identity' });
    expect(Array.from(scores.slice(0, 2))).toEqual([1.25, -7]);
    expect(Number.isFinite(scores[2])).toBe(true);
  });

  it('never returns NaN or Infinity for infinite logits', async () => {
    const scores = await applyScoreHead(Float32Array.from([Infinity, -Infinity, Infinity, Infinity]), {
      numLabels: 2,
    });
    expect(Array.from(scores).every(Number.isFinite)).toBe(true);
    expect(scores[0]).toBe(0);
  });

  it('gives the same scores on the JS thread (small inputs) and off it (large ones)', async () => {
    // 16,384 logits is where the binding stops running the head on the calling thread.
    for (const n of [16_384, 16_386, 100_000]) {
      const logits = randomLogits(n, n);
      const single = await applyScoreHead(logits, { numLabels: 1 });
      const pairs = await applyScoreHead(logits, { numLabels: 2 });
      single.forEach((s, i) => expect(Math.abs(s - sigmoid(logits[i]))).toBeLessThan(1e-7));
      pairs.forEach((s, i) => expect(Math.abs(s - sigmoid(logits[2 * i + 1] - logits[2 * i]))).toBeLessThan(1e-6));
    }
    // The rows of a large input equal the same rows scored alone (which runs on the JS thread).
    const big = randomLogits(40_000, 7);
    const whole = await applyScoreHead(big, { numLabels: 1 });
    const part = await applyScoreHead(big.slice(0, 1000), { numLabels: 1 });
    expect(Array.from(whole.subarray(0, 1000))).toEqual(Array.from(part));
  });

  it('handles an empty batch', async () => {
    expect(await applyScoreHead(new Float32Array(0), { numLabels: 1 })).toHaveLength(0);
  });
});
