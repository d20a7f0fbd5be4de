// Suite "host": what crossrank adds on the host to a GPU's time — tokenization, batching,
// the score head, JavaScript — the part of the ≤ 3 ms target (100 passages end to end) that
// this CPU-only machine can measure. The native engine's forward pass is replaced by a
// stand-in that holds no CPU (it waits for the time a GPU would take: --gpu-us-per-token,
// default 0.18 µs, minilm-l6 on cuBLASLt on the first device run, bench/GPU_NOTES.md), so
// what is left of each query's latency is the host's share, and whether the host's work
// overlaps the GPU's shows. Real text: each TREC DL 2019 query with its BM25 top-100 (cold
// token cache, then again cached), and 1,000 passages per query (the corpus in order).
// Batches as on CUDA (16,384 tokens); the real tokenizer, scheduler and score head. Node's
// timers wait at least ~1 ms, so the backend column overstates a short batch: compare the
// host column.
//
//   npm run bench -- host [--queries N] [--gpu-us-per-token X] [--json]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { NativeBackend } from '../../dist/backends/native-backend.js';
import { timeQueries } from '../../dist/bench/query-times.js';
import { CrossEncoder, loadDataset, makeModel, readRun } from '../../dist/index.js';

const { values: args } = parseArgs({
  options: {
    queries: { type: 'string', default: '20' },
    'gpu-us-per-token': { type: 'string', default: '0.18' },
    json: { type: 'boolean', default: false },
  },
});
const usPerToken = Number(args['gpu-us-per-token']);
const queryCount = Number(args.queries);

const root = resolve(import.meta.dirname, '..', '..');
const trec = resolve(root, '..', 'shared', 'data', 'trec-dl-2019');
const { queries, corpus } = await loadDataset(trec);
const top100 = [...readRun(join(trec, 'runs', 'bm25.trec'))]
  .slice(0, queryCount)
  .map(([qid, ranked]) => ({ query: queries.get(qid), docs: ranked.slice(0, 100).filter((e) => corpus.has(e.docid)).map((e) => corpus.get(e.docid)) }));
const passages = readFileSync(join(trec, 'passages.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).text);
const thousands = top100.slice(0, Math.min(queryCount, Math.floor(passages.length / 1000))).map((item, q) => ({
  query: item.query,
  docs: passages.slice(q * 1000, (q + 1) * 1000),
}));

// The GPU stand-in: the batch's tokens times the per-token time, waited for, not computed.
NativeBackend.prototype.run = async function (pairs, rows) {
  let tokens = 0;
  for (const r of rows) tokens += pairs.offsets[r + 1] - pairs.offsets[r];
  await new Promise((done) => setTimeout(done, (tokens * usPerToken) / 1000));
  return new Float32Array(rows.length * this.numLabels);
};

const dir = mkdtempSync(join(tmpdir(), 'crossrank-host-'));
try {
  const model = await CrossEncoder.load(makeModel({ preset: 'tiny', seed: 1, out: join(dir, 'tiny') }).dir, {
    backend: 'native',
    batchTokens: 16_384, // CrossEncoder's default on CUDA
  });
  await model.score('warm up', Array.from({ length: 100 }, (_, i) => `warm-up passage number ${i} `.repeat(20)));

  async function time(name, items) {
    const t = await timeQueries(model, { queries: items.map((i) => i.query), docs: items.map((i) => i.docs) });
    const p50 = (sorted) => sorted[Math.floor(sorted.length / 2)];
    return {
      name,
      queries: items.length,
      docs: items[0].docs.length,
      latencyP50: p50(t.latencies),
      backendP50: p50(t.backendMs),
      hostP50: p50(t.outsideMs),
      callsPerQuery: t.backendCalls / items.length,
    };
  }

  const rows = [await time('BM25 top-100, tokens cold', top100), await time('BM25 top-100, tokens cached', top100), await time('1,000 passages, tokens cold', thousands)];
  await model.dispose();
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.versions.node}`;
  if (args.json) {
    console.log(JSON.stringify({ machine, usPerToken, rows }, null, 2));
  } else {
    console.log(`host share of reranking with a GPU stand-in (${usPerToken} µs per token, no CPU held); TREC DL 2019; ${machine}`);
    console.log('| workload | queries | docs/query | p50 ms | p50 ms in the backend | p50 ms on the host only | backend calls / query |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.queries} | ${r.docs} | ${r.latencyP50.toFixed(2)} | ${r.backendP50.toFixed(2)} | ${r.hostP50.toFixed(2)} | ${r.callsPerQuery.toFixed(2)} |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
