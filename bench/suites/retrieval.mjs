// Suite "retrieval": the first stage on real collections.
//   - BM25 quality on Cranfield (nDCG@10, Recall@100) and known-item MRR@10 on
//     debian-packages (60k documents, 2,000 queries);
//   - BM25 on debian-packages: index build time, size on disk, load time, p50/p99 latency of a
//     top-100 query; MiniSearch (the best-kept JS BM25 library) side by side for the build and
//     query times (its scores use k 0.9, b 0.4, d 0: the same BM25);
//   - HNSW (hnswlib-node) over a synthetic bi-encoder's embeddings (tiny-embed: speed only,
//     random weights say nothing of quality): build time, size, p50/p99 latency with the
//     query's embedding.
//
//   npm run bench -- retrieval [--hnsw-docs N]   (default: all 60k documents)
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import MiniSearch from 'minisearch';

import { EncoderEmbedder, SearchIndex, bm25Tokens, evaluate, loadDataset, makeModel, readQrels, readQueries } from '../../dist/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const data = join(root, '..', 'shared', 'data');
const args = process.argv.slice(2);
const hnswDocs = args.includes('--hnsw-docs') ? Number(args[args.indexOf('--hnsw-docs') + 1]) : Infinity;
const tmp = mkdtempSync(join(tmpdir(), 'crossrank-retrieval-'));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const size = (dir) => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
const mb = (bytes) => (bytes / 1e6).toFixed(1);

function readDocs(path) {
  const byId = new Map();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const d = JSON.parse(line);
    byId.set(String(d.id), { id: String(d.id), text: d.text, title: d.title });
  }
  return [...byId.values()];
}

async function timeQueries(queries, search) {
  const lat = [];
  const run = new Map();
  for (const [qid, text] of queries) {
    const t = performance.now();
    const hits = await search(text);
    lat.push(performance.now() - t);
    run.set(qid, hits.map((h) => ({ docid: h.id, score: h.score })));
  }
  lat.sort((a, b) => a - b);
  return { run, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}\n`);

// ---- quality ---------------------------------------------------------------------------
const cranfield = await loadDataset(join(data, 'cranfield'));
const cranIndex = SearchIndex.create(join(tmp, 'cranfield'), { bm25: true });
await cranIndex.add([...cranfield.corpus].map(([id, text]) => ({ id, text })));
const cran = await timeQueries(cranfield.queries, (q) => cranIndex.bm25.retrieve(q, 100));
const cranMetrics = evaluate(cranfield.qrels, cran.run, ['ndcg_cut.10', 'recall.100']).mean;

const debianDocs = readDocs(join(data, 'debian-packages', 'docs.jsonl'));
const debianQueries = readQueries(join(data, 'debian-packages', 'queries.tsv'));
const debianQrels = readQrels(join(data, 'debian-packages', 'qrels.txt'));

// ---- BM25 on debian-packages -------------------------------------------------------------
let t = performance.now();
const bm25Index = SearchIndex.create(join(tmp, 'debian-bm25'), { bm25: true });
await bm25Index.add(debianDocs);
bm25Index.bm25.retrieveSync('warm', 1); // postings frozen: part of the build
const bm25Build = performance.now() - t;
await bm25Index.save();
t = performance.now();
const loaded = await SearchIndex.open(join(tmp, 'debian-bm25'));
const bm25Load = performance.now() - t;
const bm25 = await timeQueries(debianQueries, (q) => loaded.bm25.retrieve(q, 100));
const mrr = evaluate(debianQrels, bm25.run, ['mrr.10', 'recall.100']).mean;

t = performance.now();
const mini = new MiniSearch({ fields: ['text'], idField: 'id', tokenize: bm25Tokens, processTerm: (x) => x, searchOptions: { bm25: { k: 0.9, b: 0.4, d: 0 } } });
mini.addAll(debianDocs.map((d) => ({ id: d.id, text: d.title ? `${d.title}. ${d.text}` : d.text })));
const miniBuild = performance.now() - t;
const miniRun = await timeQueries([...debianQueries].slice(0, 300), (q) => mini.search(q).slice(0, 100));
const miniMrr = evaluate(debianQrels, miniRun.run, ['mrr.10']).mean['mrr.10'];
const oursSame = await timeQueries([...debianQueries].slice(0, 300), (q) => loaded.bm25.retrieve(q, 100));
const oursMrr300 = evaluate(debianQrels, oursSame.run, ['mrr.10']).mean['mrr.10'];

console.log('| BM25 (k1 0.9, b 0.4) | value |');
console.log('|---|---:|');
console.log(`| Cranfield nDCG@10 / Recall@100 | ${cranMetrics['ndcg_cut.10'].toFixed(4)} / ${cranMetrics['recall.100'].toFixed(4)} |`);
console.log(`| debian-packages known-item MRR@10 / Recall@100 (2,000 queries) | ${mrr['mrr.10'].toFixed(4)} / ${mrr['recall.100'].toFixed(4)} |`);
console.log(`| debian-packages: ${bm25Index.size} documents, build | ${(bm25Build / 1000).toFixed(2)} s |`);
console.log(`| index size on disk (docs.jsonl + bm25.bin) | ${mb(size(join(tmp, 'debian-bm25')))} MB |`);
console.log(`| load | ${(bm25Load / 1000).toFixed(2)} s |`);
console.log(`| top-100 query latency p50 / p99 | ${bm25.p50.toFixed(2)} / ${bm25.p99.toFixed(2)} ms |`);
console.log('');
console.log('| debian-packages, first 300 queries | build s | p50 ms | p99 ms | MRR@10 |');
console.log('|---|---:|---:|---:|---:|');
console.log(`| crossrank BM25 | ${(bm25Build / 1000).toFixed(2)} | ${oursSame.p50.toFixed(2)} | ${oursSame.p99.toFixed(2)} | ${oursMrr300.toFixed(4)} |`);
console.log(`| MiniSearch 7.2 (same BM25) | ${(miniBuild / 1000).toFixed(2)} | ${miniRun.p50.toFixed(2)} | ${miniRun.p99.toFixed(2)} | ${miniMrr.toFixed(4)} |`);
console.log(`| ratio (MiniSearch / crossrank) | ${(miniBuild / bm25Build).toFixed(1)}x | ${(miniRun.p50 / oursSame.p50).toFixed(1)}x | ${(miniRun.p99 / oursSame.p99).toFixed(1)}x | |`);

// ---- HNSW ------------------------------------------------------------------------------------
const model = makeModel({ preset: 'tiny-embed', seed: 1, out: join(tmp, 'tiny-embed') }).dir;
const embedder = await EncoderEmbedder.load(model);
const hnswSet = debianDocs.slice(0, Math.min(hnswDocs, debianDocs.length));
t = performance.now();
const hnswIndex = SearchIndex.create(join(tmp, 'debian-hnsw'), { hnsw: { embedder, embedderName: model } });
await hnswIndex.add(hnswSet);
const hnswBuild = performance.now() - t;
await hnswIndex.save();
const hnsw = await timeQueries([...debianQueries].slice(0, 500), (q) => hnswIndex.hnsw.retrieve(q, 100));
console.log('');
console.log('| HNSW (M 16, efConstruction 200, efSearch 100), tiny-embed | value |');
console.log('|---|---:|');
console.log(`| documents / build (embedding + graph) | ${hnswSet.length} / ${(hnswBuild / 1000).toFixed(1)} s |`);
console.log(`| index size on disk (docs.jsonl + hnsw.*) | ${mb(size(join(tmp, 'debian-hnsw')))} MB |`);
console.log(`| top-100 query latency p50 / p99 (with the query embedding) | ${hnsw.p50.toFixed(2)} / ${hnsw.p99.toFixed(2)} ms |`);
await embedder.dispose();
rmSync(tmp, { recursive: true, force: true });
