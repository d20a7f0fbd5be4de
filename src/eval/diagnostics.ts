/** "Is my reranker helping?" — paired comparisons of two stages over the same queries. */
import { Rng } from '../util/rng.js';

export interface PairedComparison {
  wins: number;
  losses: number;
  ties: number;
  meanDifference: number;
  /** 95% paired bootstrap confidence interval of the mean difference. */
  ci95: [number, number];
}

/** after - before per query; a tie is a difference under 1e-9. */
export function pairedComparison(before: number[], after: number[], resamples = 10_000, seed = 1): PairedComparison {
  const diffs = after.map((a, i) => a - before[i]);
  const n = diffs.length;
  const mean = n ? diffs.reduce((s, d) => s + d, 0) / n : 0;
  const rng = new Rng(seed, 11);
  const means: number[] = [];
  for (let r = 0; r < (n ? resamples : 0); r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += diffs[Math.floor(rng.uniform() * n)];
    means.push(s / n);
  }
  means.sort((a, b) => a - b);
  const at = (q: number) => (means.length ? means[Math.min(means.length - 1, Math.floor(q * means.length))] : 0);
  return {
    wins: diffs.filter((d) => d > 1e-9).length,
    losses: diffs.filter((d) => d < -1e-9).length,
    ties: diffs.filter((d) => Math.abs(d) <= 1e-9).length,
    meanDifference: mean,
    ci95: [at(0.025), at(0.975)],
  };
}

/** Kendall's tau-b between two orderings of the same items (rank arrays, lower = better). */
export function kendallTau(a: number[], b: number[]): number {
  let concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]), db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tiesA++;
      else if (db === 0) tiesB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  const denom = Math.sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
  return denom ? (concordant - discordant) / denom : 0;
}

export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

export function histogram(values: number[], bins = 20, range?: [number, number]): Histogram {
  const min = range?.[0] ?? Math.min(...values);
  const max = range?.[1] ?? Math.max(...values);
  const counts = new Array(bins).fill(0);
  const width = max > min ? (max - min) / bins : 1;
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor((v - min) / width)))]++;
  return { min, max, counts };
}
