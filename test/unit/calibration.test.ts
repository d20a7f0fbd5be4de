/** Calibration: fitting recovers known parameters; held-out ECE drops on TREC DL 2019 BM25. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  brierScore,
  calibrate,
  expectedCalibrationError,
  fitCalibrator,
  thresholdFor,
  type LabelledScores,
} from '../../src/eval/calibration.js';
import { applyProfile, fitProfile } from '../../src/eval/calibration-profile.js';
import { readQrels, readRun } from '../../src/eval/trec-files.js';
import { Rng } from '../../src/util/rng.js';
import { runCli, sharedDir, tempDir } from '../helpers.js';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Scores uniform in [-4, 4], labels drawn from sigmoid(2s - 1). */
function synthetic(n: number): LabelledScores {
  const rng = new Rng(3);
  const scores = Float64Array.from({ length: n }, () => rng.uniform() * 8 - 4);
  const labels = Uint8Array.from(scores, (s) => (rng.uniform() < sigmoid(2 * s - 1) ? 1 : 0));
  return { scores, labels };
}

describe('calibrators', () => {
  const data = synthetic(40_000);

  it('Platt recovers the generating logistic curve', () => {
    const c = fitCalibrator(data, 'platt');
    expect(c.method).toBe('platt');
    if (c.method !== 'platt') return;
    expect(c.a).toBeCloseTo(2, 1);
    expect(c.b).toBeCloseTo(-1, 1);
  });

  it('temperature scaling finds T for logits without bias', () => {
    const rng = new Rng(4);
    const scores = Float64Array.from({ length: 40_000 }, () => rng.uniform() * 8 - 4);
    const labels = Uint8Array.from(scores, (s) => (rng.uniform() < sigmoid(s / 2.5) ? 1 : 0));
    const c = fitCalibrator({ scores, labels }, 'temperature');
    if (c.method !== 'temperature') throw new Error('wrong method');
    expect(c.temperature).toBeCloseTo(2.5, 1);
  });

  it('isotonic is non-decreasing, within [0, 1], and well calibrated on its data', () => {
    const c = fitCalibrator(data, 'isotonic');
    const grid = Array.from({ length: 200 }, (_, i) => -5 + i * 0.05).map((s) => calibrate(c, s));
    for (let i = 1; i < grid.length; i++) expect(grid[i]).toBeGreaterThanOrEqual(grid[i - 1]);
    expect(Math.min(...grid)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...grid)).toBeLessThanOrEqual(1);
    const probs = Array.from(data.scores, (s) => calibrate(c, s));
    expect(expectedCalibrationError(probs, data.labels)).toBeLessThan(0.01);
  });

  it('ECE and Brier are 0 for perfect predictions and large for inverted ones', () => {
    expect(expectedCalibrationError([0, 1, 1], [0, 1, 1])).toBe(0);
    expect(brierScore([0, 1], [0, 1])).toBe(0);
    expect(brierScore([1, 0], [0, 1])).toBe(1);
  });

  it('picks thresholds for a target precision or recall', () => {
    const probs = [0.9, 0.8, 0.7, 0.6, 0.5];
    const labels = [1, 1, 0, 1, 0];
    expect(thresholdFor(probs, labels, 1, 'precision')).toBe(0.8);
    expect(thresholdFor(probs, labels, 0.75, 'precision')).toBe(0.6);
    expect(thresholdFor(probs, labels, 1, 'recall')).toBe(0.6);
    expect(thresholdFor(probs, labels, 0.5, 'recall')).toBe(0.8);
  });

  it('refuses data with a single class', () => {
    expect(() => fitCalibrator({ scores: Float64Array.from([1, 2]), labels: Uint8Array.from([0, 0]) }, 'platt')).toThrow(
      /relevant and non-relevant/,
    );
  });
});

describe('calibration on TREC DL 2019 BM25, split by query', () => {
  const trec = join(sharedDir, 'data', 'trec-dl-2019');
  const run = readRun(join(trec, 'runs', 'bm25.trec'));
  const qrels = readQrels(join(trec, 'qrels.txt'));

  // Fitted on 22 queries, measured on the 21 others (numbers also in the README).
  it.each([
    ['platt', 0.112],
    ['temperature', 0.215],
    ['isotonic', 0.084],
  ] as const)('%s lowers held-out ECE from 0.712 to about %f', (method, expected) => {
    const profile = fitProfile(run, qrels, { method, holdout: 0.5 });
    const h = profile.heldOut!;
    expect(h.queries).toBe(21);
    expect(h.eceBefore).toBeCloseTo(0.7117, 3);
    expect(h.eceAfter).toBeCloseTo(expected, 2);
    expect(h.eceAfter).toBeLessThan(h.eceBefore / 3);
    expect(h.brierAfter).toBeLessThan(h.brierBefore);
  });

  it('crossrank calibrate fits a profile and applies it to a run as probabilities', () => {
    const dir = tempDir();
    try {
      const profile = join(dir.path, 'platt.json');
      const fit = runCli(['calibrate', '--qrels', join(trec, 'qrels.txt'), '--run', join(trec, 'runs', 'bm25.trec'), '--method', 'platt', '--out', profile]);
      expect(fit.status, fit.stderr).toBe(0);
      expect(fit.stdout).toMatch(/ECE\s+0\.\d{4} -> 0\.\d{4}/);
      expect(fit.stdout).toMatch(/threshold for precision>=0.9: (0\.\d{4}|not reachable)/);
      const targeted = fitProfile(run, qrels, { method: 'isotonic', targetPrecision: [0.7], targetRecall: [0.3] });
      expect(Object.keys(targeted.thresholds)).toEqual(['precision>=0.7', 'recall>=0.3']);
      const out = join(dir.path, 'calibrated.trec');
      const apply = runCli(['calibrate', '--apply', profile, '--run', join(trec, 'runs', 'bm25.trec'), '--out', out]);
      expect(apply.status, apply.stderr).toBe(0);
      const calibrated = readRun(out);
      expect(calibrated.size).toBe(run.size);
      for (const entries of calibrated.values()) for (const e of entries) expect(e.score).toBeGreaterThanOrEqual(0), expect(e.score).toBeLessThanOrEqual(1);
      // The calibrated run keeps every query and document, in the same order.
      const q = [...run.keys()][0];
      expect(calibrated.get(q)!.map((e) => e.docid)).toEqual(run.get(q)!.map((e) => e.docid));
      expect(applyProfile(run, fitProfile(run, qrels, { method: 'platt' })).get(q)!.length).toBe(run.get(q)!.length);
    } finally {
      dir.cleanup();
    }
  });
});
