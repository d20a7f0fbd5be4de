// Suite "cpu": rerank the BM25 top-100 of every TREC DL 2019 query with the minilm-l6
// synthetic model (the shape of cross-encoder/ms-marco-MiniLM-L-6-v2), crossrank vs
// transformers.js (@huggingface/transformers) loading the same local model directory with
// its own tokenizer and padding. Both run onnxruntime-node on the CPU. Queries alternate
// between the two (ABAB) so machine noise hits both alike.
//
//   npm run bench -- cpu [--queries N] [--batch-tokens N] [--native] [--json]
// --native adds crossrank's own engine (the C++ reference forward pass) as a third runtime.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { AutoModelForSequenceClassification, AutoTokenizer, env } from '@huggingface/transformers';

import { CrossEncoder, doctorReport, makeModel } from '../../dist/index.js';

const { values: args } = parseArgs({
  options: {
    queries: { type: 'string', default: '43' },
    'batch-tokens': { type: 'string' },
    json: { type: 'boolean', default: false },
    native: { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..', '..');
const trec = resolve(root, '..', 'shared', 'data', 'trec-dl-2019');
const modelsDir = join(root, 'bench', 'out', 'models');
const modelName = 'minilm-l6-seed1';
const modelDir = join(modelsDir, modelName);
if (!existsSync(join(modelDir, 'onnx', 'model.onnx'))) makeModel({ preset: 'minilm-l6', seed: 1, out: modelDir, force: true });

// ---- data: BM25 top-100 per query ----------------------------------------------------
const queries = new Map(readFileSync(join(trec, 'queries.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t')));
const passages = new Map();
for (const line of readFileSync(join(trec, 'passages.jsonl'), 'utf8').trim().split('\n')) {
  const p = JSON.parse(line);
  passages.set(p.id, p.text);
}
const runs = new Map();
for (const line of readFileSync(join(trec, 'runs', 'bm25.trec'), 'utf8').trim().split('\n')) {
  const [qid, , docid, rank] = line.split(/\s+/);
  if (Number(rank) > 100 || !passages.has(docid)) continue;
  if (!runs.has(qid)) runs.set(qid, []);
  runs.get(qid).push(passages.get(docid));
}
const work = [...runs.entries()].slice(0, Number(args.queries)).map(([qid, docs]) => ({ query: queries.get(qid), docs }));

// ---- the two contenders --------------------------------------------------------------
const crossrank = await CrossEncoder.load(modelDir, {
  batchTokens: args['batch-tokens'] ? Number(args['batch-tokens']) : undefined,
});
env.allowRemoteModels = false;
env.localModelPath = `${modelsDir}/`;
const tjsTokenizer = await AutoTokenizer.from_pretrained(modelName);
const tjsModel = await AutoModelForSequenceClassification.from_pretrained(modelName, { dtype: 'fp32', device: 'cpu' });

async function runCrossrank({ query, docs }) {
  return crossrank.score(query, docs);
}
async function runTransformersJs({ query, docs }) {
  const inputs = tjsTokenizer(new Array(docs.length).fill(query), { text_pair: docs, padding: true, truncation: true });
  const { logits } = await tjsModel(inputs);
  return Float32Array.from(logits.data, (x) => 1 / (1 + Math.exp(-x)));
}

const contenders = [
  { name: 'crossrank', run: runCrossrank, times: [], scores: [] },
  { name: 'transformers.js', run: runTransformersJs, times: [], scores: [] },
];
let nativeEngine;
if (args.native) {
  nativeEngine = await CrossEncoder.load(modelDir, { backend: 'native' });
  contenders.push({ name: 'crossrank native (C++ reference)', run: ({ query, docs }) => nativeEngine.score(query, docs), times: [], scores: [] });
}
for (const c of contenders) await c.run(work[0]); // warm-up (graph optimisation, allocators)
for (const item of work) {
  for (const c of contenders) {
    const start = performance.now();
    c.scores.push(await c.run(item));
    c.times.push(performance.now() - start);
  }
}

// ---- equal scores? ---------------------------------------------------------------------
let maxDiff = 0;
let sameTop10 = 0;
const top10 = (s) => Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b).slice(0, 10).join();
work.forEach((_, q) => {
  const [a, b] = [contenders[0].scores[q], contenders[1].scores[q]];
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  if (top10(a) === top10(b)) sameTop10++;
});

const percentile = (values, p) => {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const pairs = work.reduce((n, w) => n + w.docs.length, 0);
const rows = contenders.map((c) => {
  const total = c.times.reduce((a, b) => a + b, 0);
  return { name: c.name, p50: percentile(c.times, 50), p95: percentile(c.times, 95), pairsPerSecond: (pairs / total) * 1000, total };
});
const speedup = rows[1].total / rows[0].total;
const report = await doctorReport();
const result = {
  machine: `${report.cpu.model} (${report.cpu.cores} cores), Node ${report.node}, onnxruntime-node ${report.onnxruntime.version}`,
  queries: work.length,
  pairs,
  batchTokens: args['batch-tokens'] ?? 'default',
  rows,
  speedup,
  maxAbsDiff: maxDiff,
  identicalTop10: `${sameTop10}/${work.length}`,
};
await crossrank.dispose();
await nativeEngine?.dispose();
if (nativeEngine) {
  let nativeDiff = 0;
  work.forEach((_, q) => contenders[2].scores[q].forEach((s, i) => (nativeDiff = Math.max(nativeDiff, Math.abs(s - contenders[0].scores[q][i])))));
  result.nativeMaxAbsDiff = nativeDiff;
}
if (args.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(`TREC DL 2019, BM25 top-100, minilm-l6 synthetic, ${result.queries} queries / ${pairs} pairs; ${result.machine}`);
  console.log('| runtime | p50 ms/query | p95 ms/query | pairs/s |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.pairsPerSecond.toFixed(1)} |`);
  console.log(`crossrank speed-up end to end: ${speedup.toFixed(2)}x; max |score diff| ${maxDiff.toExponential(2)}; identical top-10 ${result.identicalTop10}`);
  if (nativeEngine) console.log(`native engine vs crossrank (ONNX Runtime): max |score diff| ${result.nativeMaxAbsDiff.toExponential(2)}`);
}
