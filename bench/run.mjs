#!/usr/bin/env node
// `npm run bench [-- <suite> [options]]`: runs one benchmark suite from bench/suites/.
//   basic  score head (native vs JS vs CUDA), make-model time          (default)
//   cpu    TREC DL 2019 BM25 top-100 reranking: crossrank vs transformers.js, side by side
//   llm    a Qwen3 reranker: native engine with and without shared prompt prefixes, ONNX Runtime
//   tokenize  pair tokenization of 100 real passages: one native thread vs the default threads
//   host   the host's share of reranking (tokenization, batching, JavaScript) beside a GPU stand-in
//   (also event-loop, retrieval, budget, serve: see each file's header)
// Each suite prints a table to paste into bench/RESULTS.md with the machine it ran on.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const suites = join(dirname(fileURLToPath(import.meta.url)), 'suites');
const available = readdirSync(suites).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4));
const [name = 'basic', ...args] = process.argv.slice(2);
if (!available.includes(name)) {
  console.error(`unknown suite ${name}; available: ${available.join(', ')}`);
  process.exit(2);
}
process.argv = [process.argv[0], join(suites, `${name}.mjs`), ...args];
await import(join(suites, `${name}.mjs`));
