/**
 * What reranking costs on this machine: milliseconds = perCallMs + perTokenMs · tokens, where
 * tokens counts every token of every (query, document) pair scored. Measured once at start-up
 * (or read from a saved profile), then kept current from the timings of real searches, so
 * that under load — when each call also waits for others — the planner sees the slower rate
 * and plans fewer candidates instead of missing the deadline.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { countTokens, scoreDetailed, type Reranker } from './reranker.js';

export interface CostProfile {
  perCallMs: number;
  perTokenMs: number;
  model?: string;
  measuredAt?: string;
}

/** Exponential moving average weight of one new observation. */
const ADAPT = 0.2;

export class CostModel {
  perCallMs: number;
  perTokenMs: number;
  readonly model: string | undefined;

  constructor(profile: CostProfile) {
    if (!(profile.perTokenMs > 0) || !(profile.perCallMs >= 0) || !Number.isFinite(profile.perTokenMs + profile.perCallMs)) {
      throw new InvalidArgumentError('a cost profile needs perTokenMs > 0 and perCallMs >= 0');
    }
    this.perCallMs = profile.perCallMs;
    this.perTokenMs = profile.perTokenMs;
    this.model = profile.model;
  }

  predict(tokens: number, calls = 1): number {
    return calls * this.perCallMs + tokens * this.perTokenMs;
  }

  /** Folds in one observed call: `ms` for `tokens` tokens. */
  observe(tokens: number, ms: number): void {
    if (tokens <= 0 || !(ms >= 0)) return;
    const rate = Math.max(0, ms - this.perCallMs) / tokens;
    this.perTokenMs = Math.max(1e-6, (1 - ADAPT) * this.perTokenMs + ADAPT * rate);
  }

  profile(): CostProfile {
    return { perCallMs: this.perCallMs, perTokenMs: this.perTokenMs, model: this.model, measuredAt: new Date().toISOString() };
  }

  save(path: string): void {
    writeFileAtomic(path, `${JSON.stringify(this.profile(), null, 2)}\n`);
  }

  static load(path: string): CostModel {
    let value: CostProfile;
    try {
      value = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new InvalidArgumentError(`cannot read cost profile ${path}: ${(error as Error).message}`);
    }
    return new CostModel(value);
  }

  /**
   * Measures the reranker on sample texts: a warm-up call, then a small and a large batch
   * (median of three each), fitted with a straight line.
   */
  static async measure(reranker: Reranker, samples: readonly string[], query = 'what does this measure'): Promise<CostModel> {
    if (samples.length === 0) throw new InvalidArgumentError('measuring the reranker needs sample documents');
    const pick = (n: number) => Array.from({ length: n }, (_, i) => samples[i % samples.length]);
    const small = pick(2);
    const large = pick(16);
    const pairTokens = async (docs: string[]) => {
      const [q] = await countTokens(reranker, [query]);
      const d = await countTokens(reranker, docs);
      const max = reranker.info?.maxLength ?? Infinity;
      return d.reduce((sum, t) => sum + Math.min(max, q + t + 3), 0);
    };
    const time = async (docs: string[]) => {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await scoreDetailed(reranker, query, docs);
        runs.push(performance.now() - t);
      }
      return runs.sort((a, b) => a - b)[1];
    };
    await scoreDetailed(reranker, query, small);
    const [ts, tl] = [await time(small), await time(large)];
    const [ns, nl] = [await pairTokens(small), await pairTokens(large)];
    const perTokenMs = Math.max(1e-6, (tl - ts) / Math.max(1, nl - ns));
    const perCallMs = Math.max(0, ts - perTokenMs * ns);
    return new CostModel({ perCallMs, perTokenMs, model: reranker.info?.model, measuredAt: new Date().toISOString() });
  }
}
