import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';

import { CrossEncoder } from '../../cross-encoder.js';
import { loadDataset } from '../../eval/dataset.js';
import { evaluatePipeline, type PipelineReport } from '../../eval/pipeline-eval.js';
import { renderReportHtml } from '../../eval/report-html.js';
import { readRun } from '../../eval/trec-files.js';
import { InvalidArgumentError } from '../../errors.js';
import { BACKEND_HELP, integer } from '../options.js';
import { addFirstStageOptions, runFirstStage, type FirstStageCliOptions } from '../first-stage-options.js';
import { progressLine } from '../progress.js';

const latency = (l: { p50: number; p95: number } | null) => (l ? `${l.p50.toFixed(1)} / ${l.p95.toFixed(1)}` : '');

function formatReport(r: PipelineReport): string {
  const m = (x: Record<string, number>, k: string) => x[k].toFixed(4);
  const recall = `recall.${r.topK}`;
  const lines = [
    `${r.queries} queries, top-${r.topK} reranked, relevance level ${r.relevanceLevel}`,
    `| stage | nDCG@10 | MRR@10 | Recall@${r.topK} | latency p50/p95 ms |`,
    '|---|---:|---:|---:|---:|',
    `| stage 1 | ${m(r.stage1.metrics, 'ndcg_cut.10')} | ${m(r.stage1.metrics, 'mrr.10')} | ${m(r.stage1.metrics, recall)} | ${latency(r.stage1.latencyMs)} |`,
    `| reranked | ${m(r.reranked.metrics, 'ndcg_cut.10')} | ${m(r.reranked.metrics, 'mrr.10')} | ${m(r.reranked.metrics, recall)} | ${latency(r.reranked.latencyMs)} |`,
    `nDCG@10 per query: ${r.ndcg10.wins} wins, ${r.ndcg10.losses} losses, ${r.ndcg10.ties} ties; mean difference ${r.ndcg10.meanDifference.toFixed(4)} (95% CI ${r.ndcg10.ci95[0].toFixed(4)} .. ${r.ndcg10.ci95[1].toFixed(4)})`,
    `recall ceiling: stage 1 retrieved ${r.recallCeiling.retrieved} of ${r.recallCeiling.relevant} relevant documents (${(100 * r.recallCeiling.share).toFixed(1)}%); ${r.recallCeiling.missed} can never be reranked in`,
    `order change (Kendall's tau, stage 1 vs reranked, mean over queries): ${r.kendallTau.toFixed(3)}`,
  ];
  if (r.documentsWithoutText) lines.push(`${r.documentsWithoutText} retrieved documents had no text and kept their stage-1 order`);
  return lines.join('\n');
}

export function registerEvalPipeline(program: Command): void {
  const command = program
    .command('eval-pipeline')
    .description('evaluate stage 1 and its reranked top-K side by side, with diagnostics')
    .requiredOption('--data <dir>', 'dataset folder (queries.tsv, qrels.txt, docs.jsonl / passages.jsonl; or BEIR)')
    .option('--run <file>', 'stage-1 run (TREC); without it, --retriever runs over the dataset')
    .option('--reranker <id|dir>', 'the reranking model')
    .option('--reranker-run <file>', 'or the reranked output as a TREC run')
    .option('--top-k <n>', 'candidates reranked per query', integer('--top-k', 1), 100)
    .option('--rel-level <n>', 'grade at or above which a document is relevant', integer('--rel-level', 0), 1)
    .option('--queries <n>', 'evaluate only the first N queries', integer('--queries', 1))
    .option('--backend <name>', `reranker ${BACKEND_HELP}`)
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--report <file.html>', 'also write a self-contained HTML report with charts')
    .option('--json', 'print the whole report as JSON');
  addFirstStageOptions(command)
    .action(async (o: FirstStageCliOptions & { data: string; run?: string; reranker?: string; rerankerRun?: string; topK: number; relLevel: number; queries?: number; backend?: 'onnx' | 'native'; device: string; json?: boolean; report?: string }) => {
      if (!o.reranker === !o.rerankerRun) throw new InvalidArgumentError('give exactly one of --reranker and --reranker-run');
      const dataset = await loadDataset(o.data);
      const firstStage = o.run ? undefined : await runFirstStage(o, dataset.corpus, dataset.queries, o.topK);
      const model = o.reranker ? await CrossEncoder.load(o.reranker, { backend: o.backend, device: o.device }) : undefined;
      const progress = progressLine('eval-pipeline');
      try {
        const report = await evaluatePipeline(dataset, firstStage?.run ?? readRun(o.run!), {
          stage1LatenciesMs: firstStage?.latenciesMs,
          topK: o.topK,
          relevanceLevel: o.relLevel,
          maxQueries: o.queries,
          rerank: model ? (q, docs) => model.score(q, docs) : undefined,
          rerankedRun: o.rerankerRun ? readRun(o.rerankerRun) : undefined,
          onProgress: (done, total) => progress.update(done / total, 'queries'),
        });
        progress.done();
        if (o.report) writeFileSync(o.report, renderReportHtml(report, `crossrank eval-pipeline: ${basename(o.data)}`));
        console.log(o.json ? JSON.stringify(report, null, 2) : formatReport(report));
      } finally {
        await model?.dispose();
      }
    });
}
