// Suite "llm": a Qwen3 reranker (synthetic weights, the real Qwen3 tokenizer) reranking the
// BM25 top-N of TREC DL 2019 queries with crossrank's native engine and, on the CPU, ONNX
// Runtime (make-model's graph, with a key/value cache), each with prefix sharing on and off,
// side by side (queries alternate ABAB so machine noise hits all alike). Scores are compared
// with the first (native, shared).
//
//   npm run bench -- llm [--preset qwen3-tiny|qwen3-0.6b] [--queries N] [--docs N] [--device cpu|cuda] [--json]
//
// On the CPU this measures the C++ reference; the GPU numbers come from the device check
// (scripts/device/gpu-check.sh), which has no Node.js.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { CrossEncoder, doctorReport, loadDataset, makeModel, readRun } from '../../dist/index.js';

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'qwen3-tiny' },
    queries: { type: 'string', default: '5' },
    docs: { type: 'string', default: '100' },
    device: { type: 'string', default: 'cpu' },
    json: { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..', '..');
const trec = resolve(root, '..', 'shared', 'data', 'trec-dl-2019');
const modelDir = join(root, 'bench', 'out', 'models', `${args.preset}-seed1`);
if (!existsSync(join(modelDir, 'model.safetensors'))) {
  console.error(`writing the ${args.preset} synthetic model (once) ...`);
  makeModel({ preset: args.preset, seed: 1, out: modelDir, force: true });
}

// BM25 top-N per query, in rank order (the run file's order), passages that exist only.
const { queries, corpus } = await loadDataset(trec);
const runs = new Map(
  [...readRun(join(trec, 'runs', 'bm25.trec'))].map(([qid, ranked]) => [
    qid,
    ranked.slice(0, Number(args.docs)).filter((e) => corpus.has(e.docid)).map((e) => corpus.get(e.docid)),
  ]),
);
const work = [...runs.entries()].slice(0, Number(args.queries)).map(([qid, docs]) => ({ qid, query: queries.get(qid), docs }));

const load = (options) => CrossEncoder.load(modelDir, { maxLength: 512, device: args.device, ...options });
const contenders = [
  { name: 'native, prefix shared', encoder: await load({ backend: 'native', sharePrefix: true }) },
  { name: 'native, unshared', encoder: await load({ backend: 'native', sharePrefix: false }) },
];
if (existsSync(join(modelDir, 'onnx', 'model.onnx')) && args.device === 'cpu') {
  const shared = await load({ backend: 'onnx' });
  // A model written before the graph had a key/value cache: ONNX Runtime without sharing only.
  if (shared.info.sharesPrefixes) contenders.push({ name: 'ONNX Runtime, prefix shared', encoder: shared });
  else await shared.dispose();
  contenders.push({ name: 'ONNX Runtime, unshared', encoder: await load({ backend: 'onnx', sharePrefix: false }) });
}

// Warm-up: one query each (thread pools, allocations).
for (const c of contenders) await c.encoder.score(work[0].query, work[0].docs.slice(0, 8));
for (const c of contenders) (c.ms = []), (c.scores = []);
for (const [i, w] of work.entries()) {
  const order = i % 2 === 0 ? contenders : [...contenders].reverse();
  for (const c of order) {
    const t0 = performance.now();
    const scores = await c.encoder.score(w.query, w.docs);
    c.ms.push(performance.now() - t0);
    c.scores.push(scores);
  }
}
// Raw "yes" logits on the first query's first documents: synthetic weights can saturate
// P(yes) (the 0.6b preset scores ~1e-9), where the logits still show how far runtimes differ.
const rawDocs = work[0].docs.slice(0, 4);
for (const c of contenders) c.raw = (await c.encoder.scoreDetailed(work[0].query, rawDocs, { raw: true })).scores;
for (const c of contenders) await c.encoder.dispose();

const pairs = work.reduce((n, w) => n + w.docs.length, 0);
const base = contenders[0];
const maxDiff = (c) => Math.max(...c.scores.flatMap((s, q) => Array.from(s, (x, i) => Math.abs(x - base.scores[q][i]))));
const sameTop10 = (c) =>
  c.scores.filter((s, q) => {
    const top = (v) => Array.from(v.keys()).sort((a, b) => v[b] - v[a]).slice(0, 10).join(',');
    return top(s) === top(base.scores[q]);
  }).length;
// Sharing's gain within one runtime: each contender against the same runtime unshared.
const unsharedOf = (c) => contenders.find((o) => o.name.split(',')[0] === c.name.split(',')[0] && o.name.endsWith('unshared')) ?? c;
const report = doctorReport ? await doctorReport() : undefined;
const result = {
  suite: 'llm',
  preset: args.preset,
  device: args.device,
  queries: work.length,
  pairs,
  machine: report ? `${report.cpu.model} (${report.cpu.cores} cores), Node ${report.node}` : '',
  rows: contenders.map((c) => {
    const total = c.ms.reduce((a, b) => a + b, 0);
    return {
      name: c.name,
      msPerQuery: total / work.length,
      pairsPerSecond: pairs / (total / 1000),
      speedupOverUnshared: unsharedOf(c).ms.reduce((a, b) => a + b, 0) / total,
      maxScoreDiff: maxDiff(c),
      maxRawLogitDiff: Math.max(...Array.from(c.raw, (x, i) => Math.abs(x - base.raw[i]))),
      rawLogitRange: [Math.min(...base.raw), Math.max(...base.raw)],
      identicalTop10: sameTop10(c),
    };
  }),
};
if (args.json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`TREC DL 2019 BM25 top-${args.docs}, ${args.preset} synthetic, ${work.length} queries / ${pairs} pairs, device ${args.device}; ${result.machine}`);
  console.log(`| runtime | ms/query | pairs/s | vs the same runtime unshared | max |score diff| vs shared | identical top-10 | max |raw yes-logit diff| vs shared (${rawDocs.length} docs) |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of result.rows) {
    console.log(`| ${r.name} | ${r.msPerQuery.toFixed(1)} | ${r.pairsPerSecond.toFixed(1)} | ${r.speedupOverUnshared.toFixed(2)}x | ${r.maxScoreDiff.toExponential(1)} | ${r.identicalTop10}/${work.length} | ${r.maxRawLogitDiff.toExponential(1)} |`);
  }
  const [lo, hi] = result.rows[0].rawLogitRange;
  console.log(`raw yes logits of those documents (native, shared): ${lo.toFixed(3)} to ${hi.toFixed(3)}`);
}
