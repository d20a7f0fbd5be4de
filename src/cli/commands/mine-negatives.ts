import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';

import { CrossEncoder } from '../../cross-encoder.js';
import { documentText, readCorpus } from '../../eval/corpus.js';
import { formatExamples, mineNegatives } from '../../eval/mine-negatives.js';
import { readQrels, readQueries, readRun } from '../../eval/trec-files.js';
import { InvalidArgumentError } from '../../errors.js';
import { integer, number } from '../options.js';
import { progressLine } from '../progress.js';
import { addFirstStageOptions, runFirstStage } from '../first-stage-options.js';

interface MineCliOptions {
  queries: string;
  qrels: string;
  corpus: string;
  run?: string;
  retriever: string;
  embedder?: string;
  index?: string;
  out: string;
  topK: number;
  skip: number;
  negatives: number;
  relLevel: number;
  format: string;
  reranker?: string;
  margin: number;
  curriculum?: boolean;
}

export function registerMineNegatives(program: Command): void {
  const command = program
    .command('mine-negatives')
    .description("mine hard negatives from a first stage's ranking into sentence-transformers training data")
    .requiredOption('--queries <file>', 'queries.tsv (qid<TAB>text)')
    .requiredOption('--qrels <file>', 'TREC qrels')
    .requiredOption('--corpus <file>', 'JSONL documents {"id", "text"} (BEIR corpus.jsonl works)')
    .option('--run <file>', 'first-stage TREC run; without it, --retriever runs over the corpus')
    .requiredOption('--out <file>', 'output JSONL')
    .option('--top-k <n>', 'candidates per query', integer('--top-k', 1), 50)
    .option('--skip <n>', 'skip the first N candidates (likely unjudged positives)', integer('--skip', 0), 0)
    .option('--negatives <n>', 'negatives per positive', integer('--negatives', 1), 5)
    .option('--rel-level <n>', 'grade at or above which a document is a positive', integer('--rel-level', 0), 1)
    .option('--format <name>', 'triplets ({query, positive, negative}) or list ({query, positive, negatives})', 'triplets')
    .option('--reranker <id|dir>', 'score candidates and drop likely false negatives')
    .option('--margin <score>', 'with --reranker: keep negatives scoring below the weakest positive minus this', number('--margin'), 0)
    .option('--curriculum', 'order examples from easy to hard negatives');
  addFirstStageOptions(command)
    .action(async (o: MineCliOptions) => {
      if (o.format !== 'triplets' && o.format !== 'list') throw new InvalidArgumentError(`--format must be triplets or list, got ${o.format}`);
      const corpus = await readCorpus(o.corpus);
      const texts = new Map([...corpus].map(([id, d]) => [id, documentText(d)]));
      const queries = readQueries(o.queries);
      const run = o.run ? readRun(o.run) : (await runFirstStage(o, texts, queries, o.skip + o.topK)).run;
      const reranker = o.reranker ? await CrossEncoder.load(o.reranker) : undefined;
      const progress = progressLine('mine-negatives');
      try {
        const examples = await mineNegatives(queries, readQrels(o.qrels), run, texts, {
          topK: o.topK,
          skipTop: o.skip,
          negativesPerPositive: o.negatives,
          relevanceLevel: o.relLevel,
          rerank: reranker ? (q, docs) => reranker.score(q, docs) : undefined,
          margin: o.margin,
          curriculum: o.curriculum,
          onProgress: (done, total) => progress.update(done / total, 'queries'),
        });
        progress.done();
        writeFileSync(o.out, formatExamples(examples, o.format));
        const negatives = examples.reduce((n, e) => n + e.negatives.length, 0);
        console.error(`wrote ${examples.length} examples (${negatives} negatives) to ${o.out}`);
      } finally {
        await reranker?.dispose();
      }
    });
}
