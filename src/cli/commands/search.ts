import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';

import { CrossEncoder } from '../../cross-encoder.js';
import { EncoderEmbedder } from '../../embedding/encoder-embedder.js';
import { InvalidArgumentError } from '../../errors.js';
import { formatRun, readQueries, type Run } from '../../eval/trec-files.js';
import { CostModel } from '../../pipeline/cost-model.js';
import { Pipeline, type SearchResponse } from '../../pipeline/pipeline.js';
import type { DocumentFilter } from '../../retrieval/document-store.js';
import { SearchIndex, type RetrieverKind } from '../../retrieval/search-index.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { BACKEND_HELP, integer, number } from '../options.js';
import { progressLine } from '../progress.js';

interface SearchOptions {
  index: string;
  query?: string;
  queries?: string;
  out?: string;
  rerank?: string;
  retriever?: RetrieverKind;
  embedder?: string;
  embedderBackend?: 'onnx' | 'native';
  candidates?: number;
  topK?: number;
  budgetMs?: number;
  costProfile?: string;
  passages?: boolean;
  filter?: string;
  backend?: 'onnx' | 'native';
  device: string;
  tag: string;
  json?: boolean;
}

function parseFilter(text: string | undefined): DocumentFilter | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as DocumentFilter;
  } catch (error) {
    throw new InvalidArgumentError(`--filter must be a JSON object like {"lang": "en"}: ${(error as Error).message}`);
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

export function registerSearch(program: Command): void {
  program
    .command('search')
    .description('search an index built by `crossrank index`, optionally reranking with a cross-encoder')
    .requiredOption('--index <dir>', 'index directory')
    .option('--query <text>', 'one query: print the results')
    .option('--queries <file>', 'queries.tsv (qid<TAB>text): write a TREC run (with --out)')
    .option('--out <file>', 'the TREC run to write for --queries (default: standard output)')
    .option('--rerank <id|dir>', 'cross-encoder to rerank the candidates with')
    .option('--retriever <kind>', 'bm25, hnsw or hybrid (default: hybrid when the index has both)')
    .option('--embedder <id|dir>', 'the bi-encoder for the HNSW part (default: the one the index names)')
    .option('--embedder-backend <name>', `bi-encoder ${BACKEND_HELP}`)
    .option('--candidates <n>', 'stage-1 candidates (default: 100, or --top-k if larger)', integer('--candidates', 1))
    .option('--top-k <n>', 'results per query (default 10)', integer('--top-k', 1))
    .option('--budget-ms <n>', 'latency budget per search in milliseconds', number('--budget-ms'))
    .option('--cost-profile <file>', "with --budget-ms: the reranker's measured cost, read if the file exists, else measured and saved there")
    .option('--passages', 'split long documents into passages and take the best passage score (MaxP)')
    .option('--filter <json>', 'metadata filter, e.g. \'{"lang": "en", "year": {"$gte": 2020}}\'')
    .option('--backend <name>', `reranker ${BACKEND_HELP}`)
    .option('--device <device>', 'reranker device: cpu, cuda or cuda:N', 'cpu')
    .option('--tag <tag>', 'run tag for --queries', 'crossrank')
    .option('--json', 'print the full response as JSON (with --query)')
    .action(async (o: SearchOptions) => {
      if ((o.query === undefined) === (o.queries === undefined)) throw new InvalidArgumentError('give exactly one of --query or --queries');
      const filter = parseFilter(o.filter);
      const manifest = SearchIndex.readManifest(o.index);
      const wantsHnsw = manifest.hnsw && o.retriever !== 'bm25';
      const embedder = wantsHnsw ? await EncoderEmbedder.load(o.embedder ?? manifest.hnsw!.embedder, { backend: o.embedderBackend }) : undefined;
      const reranker = o.rerank ? await CrossEncoder.load(o.rerank, { backend: o.backend, device: o.device, maxWaitMs: 2 }) : undefined;
      try {
        const index = await SearchIndex.open(o.index, { embedder });
        const topK = o.topK ?? 10;
        const savedCost = o.costProfile && existsSync(o.costProfile) ? CostModel.load(o.costProfile) : undefined;
        const pipeline = new Pipeline({
          retriever: index.retriever(o.retriever),
          reranker,
          documents: index.documents,
          candidates: o.candidates ?? Math.max(100, topK),
          topN: topK,
          budgetMs: o.budgetMs,
          passages: o.passages,
          cost: savedCost,
        });
        await pipeline.ready;
        if (o.costProfile && !savedCost && pipeline.cost) pipeline.cost.save(o.costProfile);

        if (o.query !== undefined) {
          const response = await pipeline.search(o.query, { filter });
          if (o.json) {
            console.log(JSON.stringify(response, null, 2));
            return;
          }
          printResults(response);
          return;
        }

        const queries = readQueries(o.queries!);
        const run: Run = new Map();
        const latencies: number[] = [];
        let partial = 0;
        const progress = progressLine('searching');
        let done = 0;
        for (const [qid, text] of queries) {
          const t = performance.now();
          const r = await pipeline.search(text, { filter });
          latencies.push(performance.now() - t);
          if (r.partial) partial++;
          run.set(qid, r.results.map((x) => ({ docid: x.id, score: x.score })));
          progress.update(++done / queries.size, `${done}/${queries.size} queries`);
        }
        progress.done();
        const text = formatRun(run, o.tag);
        if (o.out) writeFileAtomic(o.out, text);
        else process.stdout.write(text);
        latencies.sort((a, b) => a - b);
        console.error(
          `${queries.size} queries${o.out ? ` -> ${o.out}` : ''}: p50 ${percentile(latencies, 0.5).toFixed(1)} ms, ` +
            `p99 ${percentile(latencies, 0.99).toFixed(1)} ms${o.budgetMs ? `, ${partial} partial` : ''}`,
        );
      } finally {
        await reranker?.dispose();
        await embedder?.dispose();
      }
    });
}

function printResults(r: SearchResponse): void {
  r.results.forEach((x, i) => {
    const d = x.document;
    const text = (d ? (d.title ? `${d.title} — ${d.text}` : d.text) : '').replace(/\s+/g, ' ');
    const flags = `${x.reranked ? '' : ' (stage 1)'}${x.truncated ? ' (truncated)' : ''}`;
    console.log(
      `${String(i + 1).padStart(4)}  ${x.score.toFixed(4).padStart(9)}  ${x.id}  [stage 1: #${x.stage1Rank}]${flags}  ${text.length > 90 ? `${text.slice(0, 87)}...` : text}`,
    );
  });
  const t = r.timings;
  console.error(
    `${r.counts.candidates} candidates, ${r.counts.reranked} reranked${r.partial ? ' (partial: budget reached)' : ''}; ` +
      `stage 1 ${t.stage1Ms.toFixed(1)} ms, rerank ${t.rerankMs.toFixed(1)} ms, total ${t.totalMs.toFixed(1)} ms`,
  );
}
