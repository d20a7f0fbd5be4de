/**
 * Times reranking one query at a time, and splits each query's latency into the time inside
 * the backend's calls and the rest (tokenization, batching, the score head, JavaScript): the
 * host's share. Shared by `crossrank bench` and the `host` bench suite.
 */
import { performance } from 'node:perf_hooks';

import type { CrossEncoder } from '../cross-encoder.js';
import type { Workload } from './workload.js';

/** Per query, each sorted ascending: latency, time inside backend calls, the rest; and the backend calls in all. */
export interface QueryTimes {
  latencies: number[];
  backendMs: number[];
  outsideMs: number[];
  backendCalls: number;
}

/** Scores work's queries from `first` on, one at a time, timing each and its backend calls. */
export async function timeQueries(model: CrossEncoder, work: Workload, first = 0): Promise<QueryTimes> {
  let calls = 0;
  let inBackend = 0;
  const stop = model.onBatch((batch) => {
    calls++;
    inBackend += batch.ms;
  });
  const times: QueryTimes = { latencies: [], backendMs: [], outsideMs: [], backendCalls: 0 };
  try {
    for (let q = first; q < work.queries.length; q++) {
      inBackend = 0;
      const start = performance.now();
      await model.score(work.queries[q], work.docs[q]);
      const latency = performance.now() - start;
      times.latencies.push(latency);
      times.backendMs.push(inBackend);
      times.outsideMs.push(latency - inBackend);
    }
  } finally {
    stop();
  }
  times.backendCalls = calls;
  for (const list of [times.latencies, times.backendMs, times.outsideMs]) list.sort((a, b) => a - b);
  return times;
}
