// Suite "tokenize": the host-side share of a rerank request. Pair tokenization of each TREC
// DL 2019 query with its BM25 top-100 passages (real text, the bert-base-uncased WordPiece
// tokenizer from ../shared, document cache cold), on one native thread vs split over the
// tokenizer's default number of native threads (`threads` of NativeWordPieceTokenizer). Alternating
// (ABAB) so machine noise hits both alike; each contender gets its own tokenizer, and every
// query is new to both, so no cache hit helps either.
//
//   npm run bench -- tokenize [--queries N] [--threads N] [--json]
//   npm run bench -- tokenize --against OTHER/build/Release/crossrank.node
// --against sets this build's tokenizer beside another build's (say, the previous commit
// built in a git worktree) instead: one native call each on the same texts, in alternating
// order, with the ids compared — how a tokenizer change is measured.
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { loadDataset, readRun } from '../../dist/index.js';
import { native } from '../../dist/native/load.js';
import { defaultTokenizeThreads, NativeWordPieceTokenizer } from '../../dist/tokenizer/pair-tokenizer.js';
import { readTokenizerSpec } from '../../dist/tokenizer/tokenizer-spec.js';

const { values: args } = parseArgs({
  options: {
    queries: { type: 'string', default: '43' },
    threads: { type: 'string' },
    against: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..', '..');
const trec = resolve(root, '..', 'shared', 'data', 'trec-dl-2019');
const spec = readTokenizerSpec(resolve(root, '..', 'shared', 'tokenizers', 'bert-base-uncased'));

// BM25 top-100 per query, in rank order (the run file's order), passages that exist only.
const { queries, corpus } = await loadDataset(trec);
const runs = new Map(
  [...readRun(join(trec, 'runs', 'bm25.trec'))].map(([qid, ranked]) => [
    qid,
    ranked.slice(0, 100).filter((e) => corpus.has(e.docid)).map((e) => corpus.get(e.docid)),
  ]),
);
const work = [...runs.entries()].slice(0, Number(args.queries)).map(([qid, docs]) => ({ query: queries.get(qid), docs }));

const threads = args.threads ? Number(args.threads) : defaultTokenizeThreads();
const options = { maxLength: 512, truncation: 'longest_first' };
// A build's bare text tokenizer (query and passages in one native call), for --against.
function buildTokenizer(name, addon) {
  const raw = new addon.NativeTokenizer(spec.vocab, spec.config);
  return { name, times: [], ids: [], encode: ({ query, docs }) => raw.encode([query, ...docs]) };
}
const contenders = args.against
  ? [
      buildTokenizer('this build, one call', native()),
      buildTokenizer('--against, one call', createRequire(import.meta.url)(resolve(args.against))),
    ]
  : [
      { name: 'one thread', tokenizer: new NativeWordPieceTokenizer(spec, { threads: 1 }), times: [], ids: [] },
      { name: `${threads} threads`, tokenizer: new NativeWordPieceTokenizer(spec, { threads }), times: [], ids: [] },
    ];

async function encode(c, item) {
  if (c.encode) return c.encode(item);
  const index = Int32Array.from(item.docs.keys());
  return c.tokenizer.encodePairs([item.query], item.docs, new Int32Array(item.docs.length), index, options);
}

// Warm-up on texts no timed query uses (the JIT, the native code's first allocations).
const warm = { query: 'warm up', docs: Array.from({ length: 100 }, (_, i) => `warm-up passage number ${i} `.repeat(20)) };
for (const c of contenders) await encode(c, warm);

for (const [i, item] of work.entries()) {
  for (const c of i % 2 ? [...contenders].reverse() : contenders) {
    const t0 = performance.now();
    const enc = await encode(c, item);
    c.times.push(performance.now() - t0);
    c.ids.push(enc.ids);
  }
}
// Same ids from both: the split must not change a token.
const same = contenders[0].ids.every((ids, i) => ids.length === contenders[1].ids[i].length && ids.every((x, j) => x === contenders[1].ids[i][j]));

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const docs = work.reduce((n, w) => n + w.docs.length, 0);
const rows = contenders.map((c) => ({
  name: c.name,
  p50: pct(c.times, 50),
  p95: pct(c.times, 95),
  docsPerSecond: docs / (c.times.reduce((a, b) => a + b, 0) / 1000),
}));
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.versions.node}`;
if (args.json) {
  console.log(JSON.stringify({ machine, queries: work.length, docs, identicalIds: same, rows }, null, 2));
} else {
  console.log(`pair tokenization, TREC DL 2019 BM25 top-100 (${work.length} queries, ${docs} passages), cold cache; ${machine}`);
  console.log('| tokenizer | p50 ms / query | p95 ms / query | passages/s |\n|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${Math.round(r.docsPerSecond)} |`);
  const ratio = args.against ? rows[1].p50 / rows[0].p50 : rows[0].p50 / rows[1].p50;
  console.log(`speed-up at p50${args.against ? ' of this build over --against' : ''}: ${ratio.toFixed(2)}x; identical ids: ${same}`);
}
if (!same) process.exitCode = 1;
