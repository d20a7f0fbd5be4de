/**
 * Score calibration: turn raw reranker (or first-stage) scores into probabilities of
 * relevance, fitted on (score, label) pairs taken from a run and qrels.
 *   platt        p = sigmoid(a * s + b), fitted by Newton's method on Platt's smoothed targets
 *   temperature  p = sigmoid(s / T), one parameter (for logits)
 *   isotonic     a non-decreasing step function (pool adjacent violators), linearly
 *                interpolated between its points and clamped at the ends
 * Quality: expected calibration error (15 equal-width bins) and the Brier score.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Qrels, Run } from './trec-files.js';

export type CalibrationMethod = 'platt' | 'temperature' | 'isotonic';
export const calibrationMethods: CalibrationMethod[] = ['platt', 'temperature', 'isotonic'];

export type Calibrator =
  | { method: 'platt'; a: number; b: number }
  | { method: 'temperature'; temperature: number }
  | { method: 'isotonic'; x: number[]; y: number[] };

export interface LabelledScores {
  scores: Float64Array;
  labels: Uint8Array;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Every retrieved document of every query in both run and qrels: label = grade >= level. */
export function labelledScores(run: Run, qrels: Qrels, relevanceLevel = 1, keep: (qid: string) => boolean = () => true): LabelledScores {
  const scores: number[] = [];
  const labels: number[] = [];
  for (const [qid, entries] of run) {
    const judged = qrels.get(qid);
    if (!judged || !keep(qid)) continue;
    for (const e of entries) {
      scores.push(e.score);
      labels.push((judged.get(e.docid) ?? 0) >= relevanceLevel ? 1 : 0);
    }
  }
  return { scores: Float64Array.from(scores), labels: Uint8Array.from(labels) };
}

function fitPlatt({ scores, labels }: LabelledScores): Calibrator {
  // Platt (1999) with the numerically careful Newton iteration of Lin, Lin & Weng (2007).
  const n = scores.length;
  let pos = 0;
  for (const l of labels) pos += l;
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (n - pos + 2);
  const t = Array.from(labels, (l) => (l ? hi : lo));
  let a = 0;
  let b = Math.log((pos + 1) / (n - pos + 1)); // the prior log-odds
  // Cross-entropy against the smoothed targets, written to stay finite for any z.
  const loss = (a0: number, b0: number) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      const z = a0 * scores[i] + b0;
      f += z >= 0 ? (1 - t[i]) * z + Math.log1p(Math.exp(-z)) : -t[i] * z + Math.log1p(Math.exp(z));
    }
    return f;
  };
  let f = loss(a, b);
  for (let iter = 0; iter < 100; iter++) {
    let h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(a * scores[i] + b);
      const d2 = p * (1 - p);
      h11 += scores[i] * scores[i] * d2;
      h22 += d2;
      h21 += scores[i] * d2;
      const d1 = p - t[i];
      g1 += scores[i] * d1;
      g2 += d1;
    }
    if (Math.abs(g1) < 1e-7 && Math.abs(g2) < 1e-7) break;
    const det = h11 * h22 - h21 * h21;
    const da = -(h22 * g1 - h21 * g2) / det;
    const db = -(-h21 * g1 + h11 * g2) / det;
    const gd = g1 * da + g2 * db;
    let step = 1;
    for (; step >= 1e-10; step /= 2) {
      const nf = loss(a + step * da, b + step * db);
      if (nf < f + 1e-4 * step * gd) {
        a += step * da;
        b += step * db;
        f = nf;
        break;
      }
    }
    if (step < 1e-10) break;
  }
  return { method: 'platt', a, b };
}

function fitTemperature({ scores, labels }: LabelledScores): Calibrator {
  // Minimise log loss over log T by golden-section search (the loss is unimodal in T).
  const loss = (logT: number) => {
    const inv = Math.exp(-logT);
    let f = 0;
    for (let i = 0; i < scores.length; i++) {
      const p = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(scores[i] * inv)));
      f -= labels[i] ? Math.log(p) : Math.log(1 - p);
    }
    return f;
  };
  let lo = Math.log(1e-3), hi = Math.log(1e4);
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  let f1 = loss(x1), f2 = loss(x2);
  for (let i = 0; i < 100; i++) {
    if (f1 < f2) (hi = x2), (x2 = x1), (f2 = f1), (x1 = hi - g * (hi - lo)), (f1 = loss(x1));
    else (lo = x1), (x1 = x2), (f1 = f2), (x2 = lo + g * (hi - lo)), (f2 = loss(x2));
  }
  return { method: 'temperature', temperature: Math.exp((lo + hi) / 2) };
}

function fitIsotonic({ scores, labels }: LabelledScores): Calibrator {
  const order = Array.from(scores.keys()).sort((i, j) => scores[i] - scores[j]);
  // Pool adjacent violators over blocks (mean label, weight, score range).
  const blocks: { sum: number; weight: number; lo: number; hi: number }[] = [];
  for (const i of order) {
    blocks.push({ sum: labels[i], weight: 1, lo: scores[i], hi: scores[i] });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.weight < b.sum / b.weight) break;
      blocks.pop();
      a.sum += b.sum;
      a.weight += b.weight;
      a.hi = b.hi;
    }
  }
  const x: number[] = [];
  const y: number[] = [];
  for (const b of blocks) {
    const v = b.sum / b.weight;
    x.push(b.lo), y.push(v);
    if (b.hi !== b.lo) x.push(b.hi), y.push(v);
  }
  return { method: 'isotonic', x, y };
}

export function fitCalibrator(data: LabelledScores, method: CalibrationMethod): Calibrator {
  if (!calibrationMethods.includes(method)) {
    throw new InvalidArgumentError(`calibration method must be one of ${calibrationMethods.join(', ')}, got ${method}`);
  }
  let pos = 0;
  for (const l of data.labels) pos += l;
  if (data.scores.length < 2 || pos === 0 || pos === data.scores.length) {
    throw new InvalidArgumentError(`calibration needs relevant and non-relevant examples (got ${pos} of ${data.scores.length} relevant)`);
  }
  if (method === 'platt') return fitPlatt(data);
  if (method === 'temperature') return fitTemperature(data);
  return fitIsotonic(data);
}

/** Probability of relevance for a raw score. */
export function calibrate(c: Calibrator, score: number): number {
  switch (c.method) {
    case 'platt':
      return sigmoid(c.a * score + c.b);
    case 'temperature':
      return sigmoid(score / c.temperature);
    case 'isotonic': {
      const { x, y } = c;
      if (score <= x[0]) return y[0];
      if (score >= x[x.length - 1]) return y[y.length - 1];
      let lo = 0, hi = x.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (x[mid] <= score) lo = mid;
        else hi = mid;
      }
      return x[hi] === x[lo] ? y[hi] : y[lo] + ((y[hi] - y[lo]) * (score - x[lo])) / (x[hi] - x[lo]);
    }
  }
}

/** Expected calibration error over `bins` equal-width bins of the predicted probability. */
export function expectedCalibrationError(probs: ArrayLike<number>, labels: ArrayLike<number>, bins = 15): number {
  const count = new Float64Array(bins), conf = new Float64Array(bins), acc = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const b = Math.min(bins - 1, Math.floor(probs[i] * bins));
    count[b]++;
    conf[b] += probs[i];
    acc[b] += labels[i];
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]) ece += Math.abs(acc[b] - conf[b]) / probs.length;
  return ece;
}

export function brierScore(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < probs.length; i++) s += (probs[i] - labels[i]) ** 2;
  return probs.length ? s / probs.length : 0;
}

/** Raw scores as probabilities before calibration: themselves when in [0, 1], else sigmoid. */
export function uncalibratedProbabilities(scores: ArrayLike<number>): Float64Array {
  let inUnit = true;
  for (let i = 0; i < scores.length; i++) if (scores[i] < 0 || scores[i] > 1) inUnit = false;
  return Float64Array.from(scores as ArrayLike<number>, (s) => (inUnit ? s : sigmoid(s)));
}

/** The lowest probability threshold whose precision (or recall) reaches `target`. */
export function thresholdFor(probs: ArrayLike<number>, labels: ArrayLike<number>, target: number, kind: 'precision' | 'recall'): number | null {
  const order = Array.from({ length: probs.length }, (_, i) => i).sort((i, j) => probs[j] - probs[i]);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i];
  let tp = 0;
  let best: number | null = null;
  order.forEach((i, rank) => {
    tp += labels[i];
    if (rank + 1 < order.length && probs[order[rank + 1]] === probs[i]) return; // cut only between distinct values
    const value = kind === 'precision' ? tp / (rank + 1) : tp / Math.max(1, positives);
    if (kind === 'precision' ? value >= target : value >= target && best === null) best = probs[i];
  });
  return best;
}
