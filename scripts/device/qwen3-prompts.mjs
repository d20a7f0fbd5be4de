#!/usr/bin/env node
// Writes the Qwen3-Reranker prompts of TREC DL 2019 queries and their BM25 top-N passages
// as token ids, for the decoder part of the GPU check (the GPU machine has no Node.js to
// tokenize): per query, the prompt prefix (frame + instruction + query, run once when
// shared) and each document's continuation (document + closing frame), built by the same
// code as `CrossEncoder` (src/llm/qwen3-reranker-prompt.ts, token-exact against tokenizing
// the whole prompt). Needs `npm run build:ts` first.
//
//   node scripts/device/qwen3-prompts.mjs [--queries 5] [--docs 100] [--out device-carry/qwen3-prompts.json]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { loadDataset, readRun } from '../../dist/index.js';
import { Qwen3PromptTokenizer } from '../../dist/llm/qwen3-reranker-prompt.js';

const { values: args } = parseArgs({
  options: {
    queries: { type: 'string', default: '5' },
    docs: { type: 'string', default: '100' },
    'max-length': { type: 'string', default: '512' },
    out: { type: 'string', default: 'device-carry/qwen3-prompts.json' },
  },
});
const root = resolve(import.meta.dirname, '..', '..');
const trec = resolve(root, '..', 'shared', 'data', 'trec-dl-2019');
const tokenizer = Qwen3PromptTokenizer.fromFile(resolve(root, '..', 'shared', 'tokenizers', 'qwen3', 'tokenizer.json'));

// BM25 top-N per query, in rank order (the run file's order), passages that exist only.
const { queries, corpus: passages } = await loadDataset(trec);
const runs = new Map(
  [...readRun(join(trec, 'runs', 'bm25.trec'))].map(([qid, ranked]) => [
    qid,
    ranked.slice(0, Number(args.docs)).map((e) => e.docid).filter((d) => passages.has(d)),
  ]),
);

const out = { answer_ids: [tokenizer.yesId, tokenizer.noId], max_length: Number(args['max-length']), queries: [] };
for (const [qid, docids] of [...runs.entries()].slice(0, Number(args.queries))) {
  const p = await tokenizer.encode(queries.get(qid), docids.map((d) => passages.get(d)), { maxLength: out.max_length });
  out.queries.push({
    qid,
    docids,
    prefix: Array.from(p.prefix),
    docs: p.documents.map((d) => [...d, ...p.suffix]),
  });
}
const target = resolve(root, args.out);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(out)}\n`);
const tokens = out.queries.flatMap((q) => q.docs.map((d) => d.length));
console.log(
  `${target}: ${out.queries.length} queries, ${tokens.length} documents; prefix ${out.queries.map((q) => q.prefix.length).join('/')} tokens, continuations ${Math.min(...tokens)}-${Math.max(...tokens)} tokens`,
);
