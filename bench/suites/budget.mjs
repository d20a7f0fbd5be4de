// Suite "budget": the pipeline under a latency budget and concurrent load. BM25 over
// Cranfield (1,400 abstracts) finds 100 candidates; a synthetic cross-encoder reranks them
// (ONNX Runtime, CPU). Searches arrive open-loop at a fixed mean rate (Poisson arrivals, as
// independent users send them), from light load to far past what the CPU can rerank. Reports
// how many searches came back within the budget, how many were partial (marked), how many
// candidates were reranked on average, latency percentiles, and backend batches per search
// (the micro-batcher merging concurrent searches).
//
//   npm run bench -- budget [--seconds 15] [--configs tinybert-l2:100:2/8/32,minilm-l6:300:1/4/16] [--threads N]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { CrossEncoder, Pipeline, SearchIndex, loadDataset, makeModel } from '../../dist/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '15'));
const configs = option('--configs', 'tinybert-l2:100:2/8/32,minilm-l6:300:1/4/16').split(',').map((c) => c.split(':'));
const threads = args.includes('--threads') ? Number(option('--threads')) : undefined;

const tmp = mkdtempSync(join(tmpdir(), 'crossrank-budget-'));
const ds = await loadDataset(join(root, '..', 'shared', 'data', 'cranfield'));
const index = SearchIndex.create(join(tmp, 'index'), { bm25: true });
await index.add([...ds.corpus].map(([id, text]) => ({ id, text })));
const queries = [...ds.queries.values()];
console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}; ${seconds} s per row; 100 BM25 candidates, top 10`);
console.log('');
console.log('| model | budget ms | searches/s offered | searches | within budget | partial (marked) | reranked per search | p50 ms | p99 ms | max ms | backend batches per search |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const profiles = [];
let next = 0;
// Deterministic exponential inter-arrival times.
let seed = 12345;
const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
for (const [preset, budget, rates] of configs) {
  const budgetMs = Number(budget);
  const model = makeModel({ preset, seed: 1, out: join(tmp, preset) }).dir;
  const reranker = await CrossEncoder.load(model, { maxWaitMs: 2, threads });
  const pipeline = new Pipeline({ retriever: index.bm25, reranker, documents: index.documents, candidates: 100, topN: 10, budgetMs });
  await pipeline.ready;
  const p = pipeline.cost.profile();
  profiles.push(`${preset}: ${p.perCallMs.toFixed(1)} ms per call + ${(p.perTokenMs * 1000).toFixed(1)} us per token`);
  for (const rate of rates.split('/').map(Number)) {
    const latencies = [];
    let partial = 0;
    let reranked = 0;
    let unmarkedLate = 0;
    const before = reranker.stats;
    const searches = [];
    const end = performance.now() + seconds * 1000;
    let at = performance.now();
    while ((at += (-Math.log(uniform()) * 1000) / rate) < end) {
      const wait = at - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const q = queries[next++ % queries.length];
      const t = performance.now();
      searches.push(
        pipeline.search(q).then((r) => {
          const ms = performance.now() - t;
          latencies.push(ms);
          if (r.partial) partial++;
          if (ms > budgetMs && !r.partial) unmarkedLate++;
          reranked += r.counts.reranked;
        }),
      );
    }
    await Promise.all(searches);
    const after = reranker.stats;
    latencies.sort((a, b) => a - b);
    const n = latencies.length;
    const within = latencies.filter((x) => x <= budgetMs).length;
    const pct = (q) => latencies[Math.min(n - 1, Math.floor(q * n))].toFixed(1);
    console.log(
      `| ${preset} | ${budgetMs} | ${rate} | ${n} | ${((100 * within) / n).toFixed(1)}% | ${((100 * partial) / n).toFixed(1)}% | ${(reranked / n).toFixed(1)} | ${pct(0.5)} | ${pct(0.99)} | ${latencies[n - 1].toFixed(1)} | ${((after.batches - before.batches) / n).toFixed(2)} |`,
    );
    if (unmarkedLate) console.log(`  ${unmarkedLate} searches over budget were not marked partial`);
  }
  await reranker.dispose();
}
console.log(`\ncost measured at start-up: ${profiles.join('; ')}`);
rmSync(tmp, { recursive: true, force: true });
